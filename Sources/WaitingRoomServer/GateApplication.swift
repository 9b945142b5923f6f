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
        let store = RoomStore(redis: redis)
        let gate = Gate(
            configuration: configuration, store: store, keys: try signingKeys(configuration, logger: logger),
            tickets: try ticketSigner(configuration, logger: logger), metrics: metrics, logger: logger
        )
        // Refresh ticks get a connection of their own: a slow tick never holds up joins and claims.
        let refresher = RoomRefresher(
            store: RoomStore(redis: redis.lane("refresh")), cache: gate.cache, interval: .milliseconds(configuration.refreshIntervalMs), logger: logger,
            onRefresh: { metrics.record($0) }
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

        let router = Router(context: BasicRequestContext.self)
        gate.addPlatformRoutes(to: router)
        gate.addPublicRoutes(to: router)
        gate.addAdminRoutes(to: router)
        gate.addServiceRoutes(to: router)

        let app = Application(
            router: router,
            configuration: .init(address: .hostname(configuration.httpHost, port: configuration.httpPort), serverName: "waitroom"),
            // The HTTP server is added last by Hummingbird, so it stops first: in-flight joins finish, then the
            // committer flushes its last batch, then the refresher stops.
            services: [RedisCloser(redis: redis), refresher, gate.committer],
            logger: logger
        )
        return (app, gate)
    }

    /// The Redis URL with the command timeout and, for `rediss://`, the TLS files and server name.
    static func redisConfiguration(_ configuration: GateConfiguration) throws -> RedisConfiguration {
        var redis = try RedisConfiguration(url: configuration.redisURL)
        redis.commandTimeout = .milliseconds(configuration.redisCommandTimeoutMs)
        if redis.tls != nil {
            redis.tls = RedisConfiguration.TLS(
                caFile: configuration.redisTLSCAFile, certificateFile: configuration.redisTLSCertFile,
                keyFile: configuration.redisTLSKeyFile, serverName: configuration.redisTLSServerName
            )
        }
        return redis
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
