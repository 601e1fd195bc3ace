// Times, durations and sizes as Airflow's UI shows them: "YYYY-MM-DD HH:mm:ss" in the time
// zone chosen in Airflow's navigation (kept in localStorage as "timezone"), "HH:MM:SS".

function timezone() {
  let stored = null;
  try {
    stored = localStorage.getItem("timezone");
  } catch {
    // storage disabled
  }
  if (stored) {
    try {
      const parsed = JSON.parse(stored);
      if (typeof parsed === "string") return parsed;
    } catch {
      return stored;
    }
  }
  return Intl.DateTimeFormat().resolvedOptions().timeZone;
}

export function dateTime(iso) {
  if (!iso) return "";
  const parts = {};
  const format = new Intl.DateTimeFormat("en-CA", {
    timeZone: timezone(),
    year: "numeric",
    month: "2-digit",
    day: "2-digit",
    hour: "2-digit",
    minute: "2-digit",
    second: "2-digit",
    hourCycle: "h23",
  });
  for (const { type, value } of format.formatToParts(new Date(iso))) parts[type] = value;
  return `${parts.year}-${parts.month}-${parts.day} ${parts.hour}:${parts.minute}:${parts.second}`;
}

export function duration(seconds) {
  if (seconds === null || seconds === undefined) return "";
  const whole = Math.round(seconds);
  const pad = (n) => String(n).padStart(2, "0");
  return `${pad(Math.floor(whole / 3600))}:${pad(Math.floor(whole / 60) % 60)}:${pad(whole % 60)}`;
}

export function bytes(count) {
  if (count === null || count === undefined) return "";
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let size = count;
  let unit = 0;
  while (size >= 1024 && unit < units.length - 1) {
    size /= 1024;
    unit += 1;
  }
  return unit === 0 ? `${count} B` : `${size.toFixed(1)} ${units[unit]}`;
}

export function percent(rate) {
  return rate === null || rate === undefined ? "" : `${Math.round(rate * 100)}%`;
}
