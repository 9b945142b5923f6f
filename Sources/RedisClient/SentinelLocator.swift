import Logging
import NIOCore
import Synchronization

/// Finds the current primary of a Sentinel deployment: asks each sentinel in turn
/// `SENTINEL get-master-addr-by-name <master>` and takes the first answer. The sentinel that answered moves
/// to the front, so a dead one costs at most one connect timeout, once.
///
/// The connection asks before every connection attempt and checks the answer with `ROLE` (a sentinel's
/// view can lag a failover by a moment), so a connection lost to a killed primary, a command timeout or a
/// `READONLY` reply all lead to the new primary without subscribing to `+switch-master`.
final class SentinelLocator: Sendable {
    private let sentinel: RedisConfiguration.Sentinel
    private let base: RedisConfiguration
    private let eventLoop: any EventLoop
    private let logger: Logger
    private let order: Mutex<[RedisConfiguration.Endpoint]>

    init(sentinel: RedisConfiguration.Sentinel, configuration: RedisConfiguration, eventLoop: any EventLoop, logger: Logger) {
        self.sentinel = sentinel
        self.eventLoop = eventLoop
        // One-shot connections: their failures reach the log once, in the primary connection's error.
        var quiet = logger
        quiet.logLevel = .critical
        self.logger = quiet
        order = Mutex(sentinel.sentinels)
        // Sentinels take their own credentials and no database; a short leash each, there are others to ask.
        var base = configuration
        base.topology = .single
        base.username = sentinel.username
        base.password = sentinel.password
        base.database = 0
        base.connectTimeout = min(configuration.connectTimeout, .seconds(1))
        base.commandTimeout = min(configuration.commandTimeout, .seconds(1))
        self.base = base
    }

    func locate() async throws(RedisError) -> RedisConfiguration.Endpoint {
        var failures: [String] = []
        for endpoint in order.withLock({ $0 }) {
            var configuration = base
            configuration.endpoint = endpoint
            let connection = RedisConnection(
                configuration: configuration, eventLoop: eventLoop, counters: RedisCounters(), logger: logger, events: nil
            )
            var encoded: [UInt8] = []
            RESPEncoder.encode(["SENTINEL", "get-master-addr-by-name", RedisArgument(sentinel.masterName)], into: &encoded)
            let result = await connection.submit(encoded, count: 1)
            connection.close()
            switch result {
            case .success(let replies):
                if let parts = replies[0].array, parts.count == 2, let host = parts[0].string, let port = parts[1].int.map(Int.init) {
                    promote(endpoint)
                    return .tcp(host: host, port: port)
                }
                failures.append("\(endpoint): \(replies[0])")
            case .failure(let error):
                failures.append("\(endpoint): \(error)")
            }
        }
        throw .connectionFailed("no sentinel named a primary for \(sentinel.masterName) (\(failures.joined(separator: "; ")))")
    }

    private func promote(_ endpoint: RedisConfiguration.Endpoint) {
        order.withLock { order in
            guard let index = order.firstIndex(of: endpoint), index > 0 else { return }
            order.insert(order.remove(at: index), at: 0)
        }
    }
}
