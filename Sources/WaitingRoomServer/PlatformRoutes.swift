import Hummingbird
import NIOCore
import WaitingRoomStore

/// `/healthz`, `/readyz` and `/metrics`.
struct PlatformRoutes: Sendable {
    let cache: RoomCache
    let metrics: GateMetrics
    /// When set (`WAITROOM_METRICS_KEY`), `/metrics` needs it as a bearer: room names and figures are not for everyone.
    let metricsKey: String?

    func add(to router: Router<BasicRequestContext>) {
        router.get("/healthz") { _, _ in Responses.json(#"{"status":"ok"}"#) }
        router.get("/readyz") { _, _ in
            // Ready while the refresher's ticks reach Redis: answered from that state, never by asking Redis
            // (the probe is unauthenticated; it must not be a way to load Redis). Scripts need no check: they
            // are loaded at start, and the client loads one again when Redis answers NOSCRIPT.
            guard self.cache.isCurrent() else {
                return Responses.json(
                    #"{"status":"unavailable","error":"unavailable","message":"redis unreachable: no room refresh within the stale limit"}"#,
                    status: .serviceUnavailable
                )
            }
            return Responses.json(#"{"status":"ready"}"#)
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
