import Hummingbird
import NIOCore
import WaitingRoomStore

/// `/healthz`, `/readyz` and `/metrics`.
struct PlatformRoutes: Sendable {
    let store: RoomStore
    let metrics: GateMetrics

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
        router.get("/metrics") { _, _ in
            Response(
                status: .ok,
                headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                body: .init(byteBuffer: ByteBuffer(string: self.metrics.render()))
            )
        }
    }
}
