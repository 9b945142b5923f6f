import Foundation
import Hummingbird
import Logging
import NIOCore
import RedisClient
import ServiceLifecycle
import WaitingRoomCore
import WaitingRoomStore
import WaitingRoomTokens

/// Builds the gate: Redis client, keys, cache refresher, join committer and the HTTP application.
///
/// ```swift
/// let app = try await GateApplication.build(configuration: try .load(), logger: logger)
/// try await app.runService()
/// ```
public enum GateApplication {
    public static func build(configuration: GateConfiguration, logger: Logger) async throws -> some ApplicationProtocol {
        let (app, _) = try await buildWithGate(configuration: configuration, logger: logger)
        return app
    }

    /// Like ``build(configuration:logger:)`` but also returns the gate (tests look inside it).
    public static func buildWithGate(configuration: GateConfiguration, logger: Logger) async throws -> (some ApplicationProtocol, Gate) {
        let metrics = GateMetrics()
        let redis = RedisClient(configuration: try redisConfiguration(configuration), logger: logger) { event in
            switch event {
            case .reconnected: metrics.redisReconnects.increment()
            case .disconnected: metrics.redisErrors.increment()
            case .connected, .connectFailed: break
            }
        }
        let store = RoomStore(redis: redis, replicaWait: replicaWait(configuration))
        let cache = RoomCache(staleAfter: .milliseconds(configuration.staleAfterMs))
        let committer = JoinCommitter(store: store, logger: logger)
        let keys = try signingKeys(configuration, logger: logger)
        let tickets = try ticketSigner(configuration, logger: logger)
        let joinLimiter = JoinLimiter(trustedProxies: configuration.limits.trustedProxies)
        // Refresh ticks get a connection of their own: a slow tick never holds up joins and claims.
        let refresher = RoomRefresher(
            store: RoomStore(redis: redis.lane("refresh")), cache: cache, interval: .milliseconds(configuration.refreshIntervalMs), logger: logger,
            onRefresh: { snapshots in
                metrics.record(snapshots)
                joinLimiter.keep(rooms: Set(snapshots.keys))
            }
        )
        // Seed rooms from Config/ and warm the cache; with Redis down the gate still starts (readyz says so).
        do {
            try await store.loadScripts()
            for (name, settings) in configuration.rooms.sorted(by: { $0.key < $1.key }) {
                try await store.write(room: name, settings: settings, mode: RoomStore.WriteMode.seed)
            }
            try await refresher.refresh(store.roomNames())
        } catch {
            logger.error("redis not ready at start-up; will keep trying", metadata: ["error": "\(error)"])
        }

        let reader = RequestReader(maxBodyBytes: configuration.maxBodyBytes)
        let failures = StoreFailures(metrics: metrics, logger: logger)
        let pages = try Pages(templatesDirectory: configuration.templatesDirectory)
        let router = Router(context: BasicRequestContext.self, options: .autoGenerateHeadEndpoints)
        router.add(middleware: JSONErrorMiddleware<BasicRequestContext>())  // ahead of every route: every error is JSON
        AssetRoutes.add(to: router)
        PlatformRoutes(cache: cache, metrics: metrics, metricsKey: configuration.limits.metricsKey).add(to: router)
        let rooms = RoomLookup(cache: cache, store: store)
        let rules = TicketRules()
        let boards = BuiltBoards(readAfterMs: configuration.boardReadAfterMs, readsPerSecond: configuration.boardReadsPerSecond)
        let flow = ShopperFlow(
            rooms: rooms, places: .init(committer: committer, store: store), tickets: .init(signer: tickets, rules: rules),
            admissions: .init(store: store, keys: keys, issuer: configuration.issuer),
            checks: JoinChecks(
                limiter: joinLimiter, sharedBudget: configuration.limits.sharedJoinBudget, store: store,
                proofOfWork: ProofOfWorkGate(signer: tickets), passKeys: JoinPassKeys()
            ),
            policy: PollPolicy(), boards: boards, failures: failures, metrics: metrics
        )
        PublicRoutes(
            flow: flow, reader: reader, pages: pages, jwksJSON: jwksJSON(keys),
            cookie: TicketCookie(maxAgeSeconds: rules.maximumAgeMs / 1000, secure: configuration.secureCookies)
        ).add(to: router)
        BoardRoutes(rooms: rooms, boards: boards, metrics: metrics).add(to: router)
        AdminRoutes(store: store, cache: cache, adminKey: configuration.adminKey, reader: reader, failures: failures, dashboard: pages.dashboard)
            .add(to: router)
        ServiceRoutes(
            store: store, keys: keys, issuer: configuration.issuer, leewaySeconds: configuration.leewaySeconds,
            serviceKey: configuration.serviceKey, reader: reader, failures: failures, metrics: metrics
        ).add(to: router)
        let gate = Gate(store: store, cache: cache, tickets: tickets, metrics: metrics)
        // Room events reach hooks and the log through one consumer group: each is handled by one gate.
        let gateID = "gate-" + RandomID.make(bytes: 6)
        let dispatcher = HookDispatcher(
            store: RoomStore(redis: redis.lane("events")), cache: cache, consumer: gateID, logger: logger, logEvents: configuration.logEvents
        )
        let heartbeat = GateHeartbeat(store: RoomStore(redis: redis.lane("events")), cache: cache, gate: gateID)
        // The rate tuner of auto-tuned rooms: one gate decides each room's interval, on Redis's clock.
        let tuner = RateTuner(store: RoomStore(redis: redis.lane("events")), cache: cache, logger: logger)

        let app = Application(
            router: router,
            server: ConnectionGuard(configuration.limits, maxBodyBytes: configuration.maxBodyBytes).server,
            configuration: .init(address: .hostname(configuration.httpHost, port: configuration.httpPort), serverName: "waitroom"),
            // The HTTP server is added last by Hummingbird, so it stops first: in-flight joins finish, then the
            // committer flushes its last batch, then the refresher stops.
            services: [RedisCloser(redis: redis), refresher, dispatcher, heartbeat, tuner, committer],
            logger: logger
        )
        return (app, gate)
    }

    /// The Redis URL with the command timeout, the sentinels' own credentials and, for `rediss…://`, the TLS
    /// files and server name.
    static func redisConfiguration(_ configuration: GateConfiguration) throws -> RedisConfiguration {
        var redis = try RedisConfiguration(url: configuration.redisURL)
        redis.commandTimeout = .milliseconds(configuration.redisCommandTimeoutMs)
        if case .sentinel(var sentinel) = redis.topology {
            if let username = configuration.redisSentinelUsername { sentinel.username = username }
            if let password = configuration.redisSentinelPassword { sentinel.password = password }
            redis.topology = .sentinel(sentinel)
        }
        if redis.tls != nil {
            redis.tls = RedisConfiguration.TLS(
                caFile: configuration.redisTLSCAFile, certificateFile: configuration.redisTLSCertFile,
                keyFile: configuration.redisTLSKeyFile, serverName: configuration.redisTLSServerName
            )
        }
        return redis
    }

    /// `WAITROOM_REDIS_MIN_REPLICAS` as the store's `WAIT` (nil when 0).
    static func replicaWait(_ configuration: GateConfiguration) -> ReplicaWait? {
        guard configuration.redisMinReplicas > 0 else { return nil }
        return ReplicaWait(replicas: configuration.redisMinReplicas, timeout: .milliseconds(configuration.redisMinReplicasTimeoutMs))
    }

    static func jwksJSON(_ keys: SigningKeySet) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return String(decoding: (try? encoder.encode(keys.jwks)) ?? Data(), as: UTF8.self)
    }

    static func signingKeys(_ configuration: GateConfiguration, logger: Logger) throws -> SigningKeySet {
        if configuration.signingKeyFiles.isEmpty {
            logger.warning("NO SIGNING KEY CONFIGURED: using a throwaway Ed25519 key. Tokens will not survive a restart and other instances cannot verify them. Set WAITROOM_SIGNING_KEY_FILE.")
            return try SigningKeySet(keys: [Ed25519PrivateKey()])
        }
        var keys: [Ed25519PrivateKey] = []
        for path in configuration.signingKeyFiles {
            do {
                keys.append(try Ed25519PrivateKey(pemFile: path))
            } catch {
                throw ConfigurationError(key: "WAITROOM_SIGNING_KEY_FILE", reason: "\(path): \(error)")
            }
        }
        let keySet = try SigningKeySet(keys: keys)
        logger.info("signing keys loaded", metadata: ["active_kid": "\(keySet.activeKeyID)", "published": "\(keys.count)"])
        return keySet
    }

    static func ticketSigner(_ configuration: GateConfiguration, logger: Logger) throws -> TicketSigner {
        guard let secret = configuration.ticketSecret else {
            logger.warning("NO TICKET SECRET CONFIGURED: using a throwaway one. Tickets will not survive a restart or work across instances. Set WAITROOM_TICKET_SECRET.")
            return try TicketSigner(secret: TicketSigner.randomBytes(32))
        }
        return try TicketSigner(secret: Array(secret.utf8))
    }
}

/// Closes the Redis client when the service group shuts down (it is first in the group, so it stops last).
struct RedisCloser: Service {
    let redis: RedisClient

    func run() async throws {
        try? await gracefulShutdown()
        redis.close()
    }
}
