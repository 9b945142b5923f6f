import Hummingbird
import NIOCore

/// `/healthz`, `/readyz` and `/metrics`.
extension Gate {
    func addPlatformRoutes(to router: Router<BasicRequestContext>) {
        router.get("/healthz") { _, _ in Self.json(#"{"status":"ok"}"#) }
        router.get("/readyz") { _, _ in
            // Ready when Redis answers and the scripts are loaded (loading is idempotent and cheap).
            do {
                try await self.store.loadScripts()
                return Self.json(#"{"status":"ready"}"#)
            } catch {
                return Self.json(#"{"status":"unavailable","error":"redis unreachable"}"#, status: .serviceUnavailable)
            }
        }
        router.get("/metrics") { request, _ -> Response in
            try self.requireMetricsKey(request)
            return Response(
                status: .ok,
                headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                body: .init(byteBuffer: ByteBuffer(string: self.metrics.render()))
            )
        }
    }
}
