import Hummingbird
import NIOCore
import WaitingRoomStore

/// `/healthz`, `/readyz` and `/metrics`.
struct PlatformRoutes: Sendable {
    let store: RoomStore
    let metrics: GateMetrics
    /// When set (`WAITROOM_METRICS_KEY`), `/metrics` needs it as a bearer: room names and figures are not for everyone.
    let metricsKey: String?

    func add(to router: Router<BasicRequestContext>) {
        router.get("/healthz") { _, _ in Responses.json(#"{"status":"ok"}"#) }
        router.get("/readyz") { _, _ in
            // Ready when Redis answers and the scripts are loaded (loading is idempotent and cheap).
            do {
                try await self.store.loadScripts()
                return Responses.json(#"{"status":"ready"}"#)
            } catch {
                return Responses.json(#"{"status":"unavailable","error":"redis unreachable"}"#, status: .serviceUnavailable)
            }
        }
        router.get("/metrics") { request, _ -> Response in
            if let key = self.metricsKey { try BearerKeyMiddleware<BasicRequestContext>.check(request, key: key) }
            return Response(
                status: .ok,
                headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                body: .init(byteBuffer: ByteBuffer(string: self.metrics.render()))
            )
        }
    }
}
