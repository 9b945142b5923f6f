import Foundation
import Hummingbird
import Logging
import RedisClient
import WaitingRoomCore
import WaitingRoomStore
import WaitingRoomTokens

/// Everything a request handler needs: the store, this instance's room cache, the join committer, keys.
public final class Gate: Sendable {
    public let configuration: GateConfiguration
    public let store: RoomStore
    public let cache: RoomCache
    public let committer: JoinCommitter
    public let keys: SigningKeySet
    public let tickets: TicketSigner
    public let metrics: GateMetrics
    public let logger: Logger
    let jwksJSON: String
    let pages: Pages
    /// Tickets older than this are refused (a drop is long over by then).
    let ticketMaxAgeMs: Int64 = 24 * 3_600 * 1_000
    let policy = PollPolicy()
    let storeErrorLog = LogThrottle(interval: .seconds(1))

    init(configuration: GateConfiguration, store: RoomStore, keys: SigningKeySet, tickets: TicketSigner, metrics: GateMetrics, logger: Logger) {
        self.configuration = configuration
        self.store = store
        self.cache = RoomCache(staleAfter: .milliseconds(configuration.staleAfterMs))
        self.committer = JoinCommitter(store: store, logger: logger)
        self.keys = keys
        self.tickets = tickets
        self.metrics = metrics
        self.logger = logger
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        jwksJSON = String(decoding: (try? encoder.encode(keys.jwks)) ?? Data(), as: UTF8.self)
        pages = Pages()
    }

    /// The Prometheus exposition of this instance (as `/metrics` serves it).
    public func metricsText() -> String { metrics.render() }

    var leeway: TimeInterval { TimeInterval(configuration.leewaySeconds) }

    /// A verified ticket, or the 401 that explains why not.
    func verifiedTicket(_ text: String?, room: String, epoch: String, nowMs: Int64) throws(APIError) -> QueueTicket {
        guard let text, !text.isEmpty else { throw .unauthorized("no ticket: join first", code: "missing_ticket") }
        let payload: Substring
        do {
            payload = try tickets.open(text)
        } catch {
            throw .unauthorized("the ticket is not valid", code: "invalid_ticket")
        }
        guard let ticket = QueueTicket(payload: payload) else { throw .unauthorized("the ticket is not valid", code: "invalid_ticket") }
        guard ticket.room == room, ticket.epoch == epoch else { throw .unauthorized("the ticket is for another room", code: "foreign_ticket") }
        guard nowMs - ticket.issuedAtMs <= ticketMaxAgeMs, ticket.issuedAtMs <= nowMs + 60_000 else {
            throw .unauthorized("the ticket has expired", code: "expired_ticket")
        }
        return ticket
    }

    /// The ticket a request carries: the room's cookie first, then `Authorization: Bearer`.
    func presentedTicket(_ request: Request, room: String) -> String? {
        if let cookie = request.cookies[Self.cookieName(room)]?.value, !cookie.isEmpty { return cookie }
        return Self.bearer(request)
    }

    /// The credential of `Authorization: Bearer <credential>` (scheme case-insensitive, no copies of the
    /// header made: this runs on every poll).
    static func bearer(_ request: Request) -> String? {
        guard let header = request.headers[.authorization] else { return nil }
        var bytes = header.utf8.makeIterator()
        for expected in "bearer ".utf8 {
            guard let byte = bytes.next(), byte | 0x20 == expected else { return nil }
        }
        let credential = header.utf8.dropFirst(7).drop { $0 == UInt8(ascii: " ") }
        return credential.isEmpty ? nil : String(Substring(credential))
    }

    static func cookieName(_ room: String) -> String { "wr_" + room }

    /// The cached room, or 404.
    func room(_ context: some RequestContext) throws(APIError) -> (name: String, entry: RoomCache.Entry) {
        guard let name = context.parameters.get("room"), RoomName.isValid(name), let entry = cache.entry(name) else {
            throw .notFound("no such room")
        }
        return (name, entry)
    }

    /// Reads a body up to the configured limit: 413 beyond it.
    func body(_ request: Request) async throws(APIError) -> ByteBuffer {
        do {
            return try await request.body.collect(upTo: configuration.maxBodyBytes)
        } catch {
            throw .tooLarge(configuration.maxBodyBytes)
        }
    }

    /// Maps store failures to HTTP: Redis unreachable, or answering a retryable error (`LOADING`, `BUSY`, …), is
    /// a 503 with `Retry-After`; anything else a 500 whose reason is logged at most once a second.
    func storeFailure(_ error: any Error) -> APIError {
        metrics.redisErrors.increment()
        if let error = error as? StoreError, case .corrupt(let why) = error {
            if let suppressed = storeErrorLog.admit() {
                logger.error("store returned unexpected data", metadata: ["error": "\(why)", "suppressed": "\(suppressed)"])
            }
            return APIError(.internalServerError, "internal", "unexpected store reply")
        }
        return .unavailable
    }

    static func nowMs() -> Int64 { Int64(Date().timeIntervalSince1970 * 1000) }

    static func jitterSeed(_ ticketID: String) -> UInt64 {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in ticketID.utf8 { hash = (hash ^ UInt64(byte)) &* 0x100_0000_01b3 }
        return hash
    }
}

/// The HTML pages, loaded once from the module's resources.
struct Pages: Sendable {
    let wait: String
    let dashboard: String

    init() {
        func load(_ name: String) -> String {
            guard let url = Bundle.module.url(forResource: name, withExtension: "html", subdirectory: "Resources"),
                let text = try? String(contentsOf: url, encoding: .utf8)
            else { return "<!doctype html><title>WaitingRoom</title><p>page missing</p>" }
            return text
        }
        wait = load("wait")
        dashboard = load("dashboard")
    }
}
