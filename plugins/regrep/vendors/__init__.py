"""The APIs registry providers keep next to their registries, as strategies of a client.

Harbor's API, Docker Hub's, the cloud vendors' signed APIs (ECR, Alibaba CR, Huawei SWR),
Microsoft Entra ID, GCR's project walk, GitLab's, GitHub's, Artifactory's and quay's: each
module here supplies the callables of a :class:`~regrep.registry.provider.Provider` (or the
credentials of a client), composed by the provider's hook. A classic Helm chart repository
is read as a source of its own (:mod:`~regrep.vendors.helm_charts`).
"""
