"""The few Kubernetes API operations LiveCluster uses, as thin GETs on the client's own ApiClient.

Why not `client.CoreV1Api` & co.: in kubernetes 37 those generated classes wrap each of hundreds of
methods in pydantic `validate_call` at import, which costs 2+ seconds per process (most of a
`meshprober probe` run). These methods build the request with the same `ApiClient.param_serialize`
(BearerToken auth, query encoding) and send it through the same `_call_with_legacy_options` path
the generated methods use with `_preload_content=False`, so responses, ApiException on non-2xx and
`kubernetes.stream.stream()` (which swaps `api_client.call_api` for a websocket) behave the same.
Only raw bodies: callers decode JSON themselves (agent.kube.rest).
"""

from __future__ import annotations

from typing import Any

from kubernetes import client

JSON = "application/json"


class RawApi:
    """GET subset (plus the ephemeral-container PATCH and an access review) of CoreV1Api/CustomObjectsApi/ApisApi/VersionApi/DiscoveryV1Api (raw responses)."""

    def __init__(self, api_client: client.ApiClient) -> None:
        self.api_client = api_client  # the name kubernetes.stream.stream() looks up on the bound method

    def _get(
        self,
        path: str,
        path_params: dict[str, str] | None = None,
        query: list[tuple[str, Any]] | None = None,
        *,
        accept: str = JSON,
        collection_formats: dict[str, str] | None = None,
        _preload_content: bool = False,
        _request_timeout: Any = None,
    ) -> Any:
        request = self.api_client.param_serialize(
            method="GET",
            resource_path=path,
            path_params=path_params or {},
            query_params=query or [],
            header_params={"Accept": accept},
            auth_settings=["BearerToken"],
            collection_formats=collection_formats or {},
        )
        return self.api_client._call_with_legacy_options(  # the generated methods' own path
            request, {}, None, _preload_content, _request_timeout, True
        )

    def _send(
        self,
        method: str,
        path: str,
        path_params: dict[str, str],
        body: Any,
        content_type: str,
        *,
        _preload_content: bool = False,
        _request_timeout: Any = None,
    ) -> Any:
        """A write (PATCH/POST) with a JSON body, through the same path as _get (agent.kube.ephemeral)."""
        request = self.api_client.param_serialize(
            method=method,
            resource_path=path,
            path_params=path_params,
            query_params=[],
            header_params={"Accept": JSON, "Content-Type": content_type},
            body=body,
            auth_settings=["BearerToken"],
        )
        return self.api_client._call_with_legacy_options(
            request, {}, None, _preload_content, _request_timeout, True
        )

    def patch_namespaced_pod_ephemeralcontainers(
        self, name: str, namespace: str, body: Any, content_type: str, **kw: Any
    ) -> Any:
        params = {"name": name, "namespace": namespace}
        path = "/api/v1/namespaces/{namespace}/pods/{name}/ephemeralcontainers"
        return self._send("PATCH", path, params, body, content_type, **kw)

    def create_self_subject_access_review(self, body: Any, **kw: Any) -> Any:
        path = "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews"
        return self._send("POST", path, {}, body, JSON, **kw)

    @staticmethod
    def _q(**params: Any) -> list[tuple[str, Any]]:
        names = {
            "label_selector": "labelSelector",
            "since_seconds": "sinceSeconds",
            "limit_bytes": "limitBytes",
        }
        return [(names.get(k, k), v) for k, v in params.items() if v is not None]

    # --- core/v1 ------------------------------------------------------------------------------
    def read_namespaced_pod(self, name: str, namespace: str, **kw: Any) -> Any:
        return self._get(
            "/api/v1/namespaces/{namespace}/pods/{name}", {"name": name, "namespace": namespace}, **kw
        )

    def list_namespaced_pod(self, namespace: str, label_selector: str | None = None, **kw: Any) -> Any:
        query = self._q(label_selector=label_selector)
        return self._get("/api/v1/namespaces/{namespace}/pods", {"namespace": namespace}, query, **kw)

    def list_pod_for_all_namespaces(self, label_selector: str | None = None, **kw: Any) -> Any:
        return self._get("/api/v1/pods", None, self._q(label_selector=label_selector), **kw)

    def list_namespaced_service(self, namespace: str, label_selector: str | None = None, **kw: Any) -> Any:
        query = self._q(label_selector=label_selector)
        return self._get("/api/v1/namespaces/{namespace}/services", {"namespace": namespace}, query, **kw)

    def list_service_for_all_namespaces(self, label_selector: str | None = None, **kw: Any) -> Any:
        return self._get("/api/v1/services", None, self._q(label_selector=label_selector), **kw)

    def read_namespaced_endpoints(self, name: str, namespace: str, **kw: Any) -> Any:
        params = {"name": name, "namespace": namespace}
        return self._get("/api/v1/namespaces/{namespace}/endpoints/{name}", params, **kw)

    def read_namespaced_config_map(self, name: str, namespace: str, **kw: Any) -> Any:
        params = {"name": name, "namespace": namespace}
        return self._get("/api/v1/namespaces/{namespace}/configmaps/{name}", params, **kw)

    def read_namespaced_pod_log(
        self,
        name: str,
        namespace: str,
        container: str | None = None,
        since_seconds: int | None = None,
        limit_bytes: int | None = None,
        follow: bool = False,
        **kw: Any,
    ) -> Any:
        query = self._q(container=container, since_seconds=since_seconds, limit_bytes=limit_bytes)
        if follow:
            query.append(("follow", "true"))
        params = {"name": name, "namespace": namespace}
        return self._get("/api/v1/namespaces/{namespace}/pods/{name}/log", params, query, **kw)

    def connect_get_namespaced_pod_exec(
        self,
        name: str,
        namespace: str,
        command: list[str] | None = None,
        container: str | None = None,
        stderr: bool | None = None,
        stdin: bool | None = None,
        stdout: bool | None = None,
        tty: bool | None = None,
        **kw: Any,
    ) -> Any:
        # Same query order as the generated method; `command` repeats (collection format "multi").
        query = self._q(
            command=command, container=container, stderr=stderr, stdin=stdin, stdout=stdout, tty=tty
        )
        params = {"name": name, "namespace": namespace}
        return self._get(
            "/api/v1/namespaces/{namespace}/pods/{name}/exec",
            params,
            query,
            accept="*/*",
            collection_formats={"command": "multi"},
            **kw,
        )

    def get_path(self, path: str, query: list[tuple[str, Any]] | None = None, **kw: Any) -> Any:
        """GET any collection path the caller built (list pages and watches of agent.kube.watch_cache)."""
        return self._get(path, None, query, **kw)

    # --- discovery, version, custom objects, endpoint slices ---------------------------------
    def get_api_versions(self, **kw: Any) -> Any:
        return self._get("/apis/", **kw)

    def get_code(self, **kw: Any) -> Any:
        return self._get("/version/", **kw)

    def list_cluster_custom_object(self, group: str, version: str, plural: str, **kw: Any) -> Any:
        params = {"group": group, "version": version, "plural": plural}
        return self._get("/apis/{group}/{version}/{plural}", params, **kw)

    def list_namespaced_custom_object(
        self, group: str, version: str, namespace: str, plural: str, **kw: Any
    ) -> Any:
        params = {"group": group, "version": version, "namespace": namespace, "plural": plural}
        return self._get("/apis/{group}/{version}/namespaces/{namespace}/{plural}", params, **kw)

    def list_mutating_webhook_configuration(self, label_selector: str | None = None, **kw: Any) -> Any:
        path = "/apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations"
        return self._get(path, None, self._q(label_selector=label_selector), **kw)

    def list_namespaced_endpoint_slice(
        self, namespace: str, label_selector: str | None = None, **kw: Any
    ) -> Any:
        query = self._q(label_selector=label_selector)
        path = "/apis/discovery.k8s.io/v1/namespaces/{namespace}/endpointslices"
        return self._get(path, {"namespace": namespace}, query, **kw)
