import Foundation
import RedisClient
import TestSupport
import Testing

/// TLS against a TLS-only redis-server (`--port 0 --tls-port N`) with certificates made by `openssl`.
@Suite("Redis client over TLS", .serialized)
struct RedisTLSTests {
    @Test("rediss:// with an ACL user, a password and a database; pipelining shares writes over TLS too")
    func commandsOverTLS() async throws {
        let certificates = try TestCertificates.shared()
        let server = try await TestRedisServer.start(
            arguments: ["--user", "gate", "on", ">s3cret", "~*", "&*", "+@all"], tls: certificates
        )
        var configuration = try RedisConfiguration(url: "rediss://gate:s3cret@127.0.0.1:\(server.port)/2")
        #expect(configuration.tls == RedisConfiguration.TLS())
        configuration.tls?.caFile = certificates.caFile
        let redis = RedisClient(configuration: configuration)
        #expect(try await redis.ping() == "PONG")
        try await redis.set("tls-key", "over-tls")
        #expect(try await redis.get("tls-key") == Array("over-tls".utf8))
        // The key is in database 2 only (checked on the plain unix socket).
        var plain = server.socketConfiguration
        plain.username = "gate"
        plain.password = "s3cret"
        #expect(try await RedisClient(configuration: plain).get("tls-key") == nil)
        plain.database = 2
        #expect(try await RedisClient(configuration: plain).get("tls-key") == Array("over-tls".utf8))

        let before = redis.statistics
        let values = try await withThrowingTaskGroup(of: Int64.self) { group in
            for _ in 0..<200 { group.addTask { try await redis.incrby("tls-counter", 1) } }
            return try await group.reduce(into: [Int64]()) { $0.append($1) }
        }
        #expect(Set(values) == Set(1...200))
        let after = redis.statistics
        #expect(after.commands - before.commands == 200)
        #expect(after.writes - before.writes < 200, "200 concurrent commands left in \(after.writes - before.writes) writes")
    }

    @Test("a server certificate from another CA is refused, naming the TLS failure")
    func wrongCA() async throws {
        let certificates = try TestCertificates.shared()
        let server = try await TestRedisServer.start(tls: certificates)
        var configuration = server.configuration
        configuration.tls?.caFile = certificates.otherCAFile
        let error = await #expect(throws: RedisError.self) { try await RedisClient(configuration: configuration).ping() }
        guard case .tls(let why) = error else { Issue.record("expected a TLS error, got \(String(describing: error))"); return }
        #expect(why.contains("CERTIFICATE_VERIFY_FAILED"), "\(why)")
        #expect(error?.isRetryable == true)
        // The right CA works against the same server.
        #expect(try await RedisClient(configuration: server.configuration).ping() == "PONG")
    }

    @Test("a server name the certificate does not carry is refused; one it carries is accepted")
    func wrongServerName() async throws {
        let certificates = try TestCertificates.shared()
        let server = try await TestRedisServer.start(tls: certificates)
        var configuration = server.configuration
        configuration.tls?.serverName = "redis.other.example"
        let error = await #expect(throws: RedisError.self) { try await RedisClient(configuration: configuration).ping() }
        guard case .tls(let why) = error else { Issue.record("expected a TLS error, got \(String(describing: error))"); return }
        #expect(why.contains("redis.other.example"), "\(why)")
        configuration.tls?.serverName = "localhost"
        #expect(try await RedisClient(configuration: configuration).ping() == "PONG")
    }

    @Test("a server that requires client certificates refuses a client without one and accepts ours")
    func clientCertificate() async throws {
        let certificates = try TestCertificates.shared()
        let server = try await TestRedisServer.start(tls: certificates, requireClientCertificates: true)
        let anonymous = RedisClient(configuration: server.configuration)
        let error = await #expect(throws: RedisError.self) { try await anonymous.ping() }
        #expect(error?.isConnectivity == true)
        var configuration = server.configuration
        configuration.tls?.certificateFile = certificates.clientCertificateFile
        configuration.tls?.keyFile = certificates.clientKeyFile
        let redis = RedisClient(configuration: configuration)
        #expect(try await redis.ping() == "PONG")
        #expect(try await redis.incrby("client-cert", 2) == 2)
    }

    @Test("a port that accepts but never completes the TLS handshake fails within the connect timeout, naming TLS")
    func silentHandshake() async throws {
        let listener = try SilentListener()
        defer { listener.close() }
        var configuration = try RedisConfiguration(url: "rediss://127.0.0.1:\(listener.port)")
        configuration.connectTimeout = .milliseconds(300)
        configuration.commandTimeout = .seconds(5)
        let started = ContinuousClock.now
        let error = await #expect(throws: RedisError.self) { try await RedisClient(configuration: configuration).ping() }
        #expect(ContinuousClock.now - started < .seconds(2))
        guard case .tls(let why) = error else { Issue.record("expected a TLS error, got \(String(describing: error))"); return }
        #expect(why.contains("no TLS handshake"))
    }

    @Test("a TLS server that is gone (connection refused, as after a failover's SIGKILL) fails as retryable, not a crash")
    func serverGone() async throws {
        var configuration = try RedisConfiguration(url: "rediss://127.0.0.1:\(try freePort())")
        configuration.tls?.caFile = try TestCertificates.shared().caFile
        let redis = RedisClient(configuration: configuration)
        defer { redis.close() }
        for _ in 0..<3 {
            let error = await #expect(throws: RedisError.self) { try await redis.ping() }
            #expect(error?.isRetryable == true, "\(String(describing: error))")
        }
    }

    @Test("unreadable TLS files fail every command with a TLS error, not a crash")
    func unreadableFiles() async throws {
        var configuration = try RedisConfiguration(url: "rediss://127.0.0.1:\(try freePort())")
        configuration.tls?.caFile = "/nonexistent/ca.pem"
        let error = await #expect(throws: RedisError.self) { try await RedisClient(configuration: configuration).ping() }
        guard case .tls(let why) = error else { Issue.record("expected a TLS error, got \(String(describing: error))"); return }
        #expect(why.contains("/nonexistent/ca.pem"))
    }
}
