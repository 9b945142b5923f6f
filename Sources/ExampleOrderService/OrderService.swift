import AsyncHTTPClient
import Foundation
import Hummingbird
import NIOCore
import WaitingRoomTokens
import WaitingRoomVerifier

/// The example order service: the integration guide for an order-service team, in code.
///
/// Every checkout route sits behind ``AdmissionMiddleware`` (offline EdDSA verification with the gate's
/// JWKS). Placing an order consumes the token at the gate (single use: a shared or replayed token gets one
/// order) and then releases the slot, so the next shopper is admitted at once; abandoning releases too.
@main
struct OrderService {
    struct Context: AdmissionRequestContext {
        var coreContext: CoreRequestContextStorage
        var admission: AdmissionClaims?

        init(source: ApplicationRequestContextSource) {
            coreContext = .init(source: source)
            admission = nil
        }
    }

    static func main() async throws {
        let environment = ProcessInfo.processInfo.environment
        let gateURL = environment["WAITROOM_URL"] ?? "http://127.0.0.1:8080"
        let serviceKey = environment["WAITROOM_SERVICE_KEY"] ?? ""
        let issuer = environment["WAITROOM_ISSUER"] ?? "waitroom"
        let host = environment["ORDER_SERVICE_HOST"] ?? "127.0.0.1"
        let port = Int(environment["ORDER_SERVICE_PORT"] ?? "8081") ?? 8081
        // Optional: accept only admissions to this room (others answer 403).
        let room = environment["ORDER_SERVICE_ROOM"]

        // A capacity model, for drops whose checkout degrades for real (see CheckoutCapacity): flags win over
        // the environment (`--capacity 8 --service-ms 300 --queue-limit 40 --slow-after 60 --slow-for 30 --slow-factor 3`).
        let flags = Self.flags(CommandLine.arguments)
        func setting(_ flag: String, _ variable: String) -> String? { flags[flag] ?? environment[variable] }
        var model = CheckoutCapacity.Model()
        model.concurrency = setting("capacity", "ORDER_SERVICE_CAPACITY").flatMap { Int($0) } ?? 0
        model.serviceMs = setting("service-ms", "ORDER_SERVICE_SERVICE_MS").flatMap { Int($0) } ?? model.serviceMs
        model.queueLimit = setting("queue-limit", "ORDER_SERVICE_QUEUE_LIMIT").flatMap { Int($0) } ?? model.queueLimit
        model.slowAfterSeconds = setting("slow-after", "ORDER_SERVICE_SLOW_AFTER").flatMap { Double($0) }
        model.slowForSeconds = setting("slow-for", "ORDER_SERVICE_SLOW_FOR").flatMap { Double($0) } ?? model.slowForSeconds
        model.slowFactor = setting("slow-factor", "ORDER_SERVICE_SLOW_FACTOR").flatMap { Double($0) } ?? model.slowFactor
        let capacity = CheckoutCapacity(model)
        // Checkout's health (p95, error ratio over the last seconds) goes to the gate's rate tuner once a second.
        let healthRoom = setting("health-room", "ORDER_SERVICE_HEALTH_ROOM") ?? room
        let reporter = healthRoom.map { healthRoom in
            Task { await capacity.report(to: gateURL, room: healthRoom, serviceKey: serviceKey, client: GateServiceClient.client) }
        }
        defer { reporter?.cancel() }

        let verifier = AdmissionVerifier(jwksURL: gateURL + "/.well-known/jwks.json", issuer: issuer, minimumRefetchInterval: .seconds(5))
        let gate = GateServiceClient(baseURL: gateURL, serviceKey: serviceKey)

        let router = Router(context: Context.self)
        router.get("/healthz") { _, _ in "ok" }
        let checkout = router.group("/checkout").add(middleware: AdmissionMiddleware<Context>(verifier: verifier, room: room))
        checkout.get("") { request, context in
            let claims = context.admission!
            let token = AdmissionMiddleware<Context>.token(in: request) ?? ""
            let page = """
                <!doctype html><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
                <title>Checkout</title>
                <body style="font-family: system-ui, sans-serif; max-width: 32rem; margin: 3rem auto; padding: 0 1rem">
                <h1>Checkout</h1>
                <p>You were admitted to <b>\(claims.aud)</b> (place \(claims.seq)). Your session ends at \(claims.expiresAt.formatted(date: .omitted, time: .standard)).</p>
                <form method="post" action="/checkout/order?wr_token=\(token)"><button>Place order</button></form>
                <form method="post" action="/checkout/abandon?wr_token=\(token)"><button>Leave checkout</button></form>
                </body>
                """
            return Response(status: .ok, headers: [.contentType: "text/html; charset=utf-8"], body: .init(byteBuffer: ByteBuffer(string: page)))
        }
        @Sendable func placeOrder(_ request: Request, _ context: Context) async throws -> Response {
            let claims = context.admission!
            let token = AdmissionMiddleware<Context>.token(in: request) ?? ""
            // Single use: the gate remembers this token until it expires. The order's id goes with it as the
            // idempotency key, so a retry after a 503 (or a timeout) learns that this order's consume went through.
            let orderID = UUID().uuidString
            var consumed = try await gate.call("consume", token: token, idempotencyKey: orderID)
            if consumed == 503 {
                try await Task.sleep(for: .seconds(1))
                consumed = try await gate.call("consume", token: token, idempotencyKey: orderID)
            }
            switch consumed {
            case 200:
                // ... create the order in the order database here ...
                _ = try await gate.call("release", token: token)  // checkout done: free the slot at once
                return json(.ok, #"{"order":"placed","room":"\#(claims.aud)","seq":\#(claims.seq)}"#)
            case 409:
                return json(.conflict, #"{"error":"already_used","message":"this admission was already used for an order"}"#)
            case let status:
                return json(.badGateway, #"{"error":"gate_error","message":"the waiting room answered \#(status)"}"#)
            }
        }
        checkout.post("/order") { request, context in
            // The capacity model: wait for a slot (or fail at once when the line is full), take the order's
            // time, and count the request's latency and outcome for the health report.
            let started = ContinuousClock.now
            guard await capacity.enter() else {
                await capacity.record(ms: (ContinuousClock.now - started).seconds * 1000, ok: false)
                return json(.serviceUnavailable, #"{"error":"overloaded","message":"checkout is full; try again shortly"}"#)
            }
            let response: Response
            do {
                try await Task.sleep(for: await capacity.serviceTime())
                response = try await placeOrder(request, context)
            } catch {
                await capacity.leave()
                await capacity.record(ms: (ContinuousClock.now - started).seconds * 1000, ok: false)
                throw error
            }
            await capacity.leave()
            await capacity.record(ms: (ContinuousClock.now - started).seconds * 1000, ok: response.status == .ok)
            return response
        }
        checkout.post("/abandon") { request, _ in
            _ = try await gate.call("release", token: AdmissionMiddleware<Context>.token(in: request) ?? "")
            return json(.ok, #"{"checkout":"abandoned"}"#)
        }

        let app = Application(router: router, configuration: .init(address: .hostname(host, port: port), serverName: "example-order-service"))
        try await app.runService()
    }

    /// `--name value` pairs.
    static func flags(_ arguments: [String]) -> [String: String] {
        var flags: [String: String] = [:]
        var index = 1
        while index + 1 < arguments.count {
            if arguments[index].hasPrefix("--") { flags[String(arguments[index].dropFirst(2))] = arguments[index + 1] }
            index += 2
        }
        return flags
    }

    static func json(_ status: HTTPResponse.Status, _ text: String) -> Response {
        Response(status: status, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(string: text)))
    }
}

/// Calls the gate's service API (`/v1/admissions/consume|release`) with the service key.
struct GateServiceClient: Sendable {
    let baseURL: String
    let serviceKey: String

    /// Every checkout makes two calls to the gate: the shared client's 8 connections per host made a queue
    /// inside the client when a drop's admissions came in a burst (the simulator saw checkouts wait out
    /// their 10 s after a CPU hog). 64 connections, as many as the gate serves at ease.
    static let client: HTTPClient = {
        var configuration = HTTPClient.Configuration()
        configuration.connectionPool.concurrentHTTP1ConnectionsPerHostSoftLimit = 64
        configuration.timeout.connect = .seconds(2)
        return HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
    }()

    func call(_ action: String, token: String, idempotencyKey: String? = nil) async throws -> Int {
        var request = HTTPClientRequest(url: baseURL + "/v1/admissions/" + action)
        request.method = .POST
        request.headers.add(name: "Authorization", value: "Bearer \(serviceKey)")
        request.headers.add(name: "Content-Type", value: "application/json")
        let key = idempotencyKey.map { #","idempotencyKey":"\#($0)""# } ?? ""
        request.body = .bytes(ByteBuffer(string: #"{"token":"\#(token)"\#(key)}"#))
        let response = try await Self.client.execute(request, timeout: .seconds(5))
        _ = try await response.body.collect(upTo: 1 << 16)
        return Int(response.status.code)
    }
}
