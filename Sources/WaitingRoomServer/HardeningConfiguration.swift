import Foundation
import WaitingRoomCore

/// Connection limits, client identity behind proxies, the metrics key and (until room settings own it) the
/// per-client join limit. Part of ``GateConfiguration`` (`limits`); YAML section `limits:`; environment
/// variables win (both declared in ``GateConfiguration/settings``).
public struct HardeningConfiguration: Sendable {
    /// A keep-alive connection with no request in progress is closed after this long
    /// (`WAITROOM_HTTP_IDLE_TIMEOUT_MS`). It also bounds the wait for a new connection's first request.
    public var idleTimeoutMs = 30_000
    /// A request must arrive whole (head and body) within this long of its first byte
    /// (`WAITROOM_HTTP_READ_TIMEOUT_MS`): slow-loris headers and trickled bodies are cut off.
    public var readTimeoutMs = 10_000
    /// Output a client does not read may stay above `maxUnsentBytes` for this long, then the connection is
    /// closed (`WAITROOM_HTTP_WRITE_TIMEOUT_MS`): a client that pipelines requests and never reads its
    /// answers cannot hold a connection.
    public var writeTimeoutMs = 10_000
    /// Unsent output per connection above which the gate reads no further requests from it
    /// (`WAITROOM_HTTP_MAX_UNSENT_BYTES`; the kernel's socket buffer comes on top).
    public var maxUnsentBytes = 65_536
    /// Open connections per instance (`WAITROOM_HTTP_MAX_CONNECTIONS`); beyond it new connections get a
    /// 503 and are closed. Nil: derived from the descriptor limit (see ``effectiveMaxConnections``).
    public var maxConnections: Int?
    /// Proxies whose `Forwarded` / `X-Forwarded-For` are believed (`WAITROOM_TRUSTED_PROXIES`, CIDR list).
    public var trustedProxies = TrustedProxies.none
    /// When set, `/metrics` requires `Authorization: Bearer <key>` (`WAITROOM_METRICS_KEY`; environment only).
    public var metricsKey: String?
    /// Also count each client's joins in Redis, so the room's `joinsPerClientPerMinute` holds across all
    /// gates together instead of per gate (`WAITROOM_SHARED_JOIN_BUDGET`; costs one round trip per new join).
    public var sharedJoinBudget = false

    public init() {}

    /// Descriptors kept free for Redis connections, files and the runtime when the cap is derived.
    static let reservedDescriptors = 64

    /// The connection cap in force: the configured one, or the soft descriptor limit less a reserve
    /// (and less 10% of it), so the process runs out of connection slots before it runs out of
    /// descriptors: accepting never fails with EMFILE and the runtime can still open files.
    public var effectiveMaxConnections: Int {
        if let maxConnections { return maxConnections }
        return Self.derivedMaxConnections(descriptorLimit: Self.descriptorLimit())
    }

    static func derivedMaxConnections(descriptorLimit: Int) -> Int {
        max(16, descriptorLimit - reservedDescriptors - descriptorLimit / 10)
    }

    static func descriptorLimit() -> Int {
        var limit = rlimit()
        guard getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0 else { return 1_024 }
        return Int(min(limit.rlim_cur, 1 << 20))
    }

    func validate() throws(ConfigurationError) {
        guard (100...3_600_000).contains(idleTimeoutMs) else { throw ConfigurationError(key: "limits.idleTimeoutMs", reason: "must be 100...3600000") }
        guard (100...600_000).contains(readTimeoutMs) else { throw ConfigurationError(key: "limits.readTimeoutMs", reason: "must be 100...600000") }
        guard (100...600_000).contains(writeTimeoutMs) else { throw ConfigurationError(key: "limits.writeTimeoutMs", reason: "must be 100...600000") }
        guard (4_096...(64 << 20)).contains(maxUnsentBytes) else { throw ConfigurationError(key: "limits.maxUnsentBytes", reason: "must be 4096...67108864") }
        if let maxConnections, maxConnections < 1 { throw ConfigurationError(key: "limits.maxConnections", reason: "must be at least 1") }
        if let metricsKey, metricsKey.utf8.count < 16 { throw ConfigurationError(key: "WAITROOM_METRICS_KEY", reason: "must be at least 16 bytes") }
    }
}
