import Foundation
import RedisClient
import TestSupport
import Testing
import WaitingRoomServer
import WaitingRoomStore

/// The gate against a TLS Redis, a stalled Redis and a reloading Redis.
@Suite("Gate: Redis over TLS, stalls and LOADING", .serialized, .stopsGates)
struct GateRedisTransportTests {
    @Test("over TLS with a client certificate, an ACL user and a database: join, poll and claim work; readyz is ready")
    func queueOverTLS() async throws {
        let certificates = try TestCertificates.shared()
        let server = try await TestRedisServer.start(
            arguments: ["--user", "gate", "on", ">s3cret", "~*", "&*", "+@all"], tls: certificates, requireClientCertificates: true
        )
        let room = uniqueRoom("tls")
        let gate = try await RunningGate.start(redisURL: "rediss://gate:s3cret@127.0.0.1:\(server.port)/3", rooms: [room: settings(rate: 50)]) {
            $0.redisTLSCAFile = certificates.caFile
            $0.redisTLSCertFile = certificates.clientCertificateFile
            $0.redisTLSKeyFile = certificates.clientKeyFile
            $0.redisTLSServerName = "localhost"
        }
        #expect(try await HTTP.shared.call(.GET, gate.base + "/readyz").status == 200)
        let base = gate.base + "/v1/rooms/\(room)"
        let first = try await HTTP.shared.call(.POST, base + "/join")
        #expect(first.status == 200)
        let ticket = try #require(first.string("ticket"))
        var token: String?
        try await waitUntil(timeout: .seconds(5)) {
            let poll = try await HTTP.shared.call(.GET, base + "/status", bearer: ticket)
            token = poll.string("token")
            return poll.string("state") == "admitted"
        }
        #expect(token != nil)
        // The room lives in database 3 of the TLS server (read on its plain unix socket).
        var plain = server.socketConfiguration
        plain.username = "gate"
        plain.password = "s3cret"
        plain.database = 3
        #expect(try await RedisClient(configuration: plain).execute(["SISMEMBER", RedisArgument(RoomKeys.registry), RedisArgument(room)]).int == 1)
    }

    @Test("a wrong CA or server name leaves readyz at 503, joins at 503, and a log line names the TLS failure", arguments: [
        "ca", "name",
    ])
    func tlsRefused(what: String) async throws {
        let certificates = try TestCertificates.shared()
        let server = try await TestRedisServer.start(tls: certificates)
        let logs = LogCapture()
        let room = uniqueRoom("tlsbad")
        let gate = try await RunningGate.start(redisURL: server.url, rooms: [room: settings(rate: 1)], logs: logs) {
            $0.redisTLSCAFile = what == "ca" ? certificates.otherCAFile : certificates.caFile
            if what == "name" { $0.redisTLSServerName = "redis.other.example" }
        }
        let ready = try await HTTP.shared.call(.GET, gate.base + "/readyz")
        #expect(ready.status == 503)
        #expect(try await HTTP.shared.call(.POST, gate.base + "/v1/rooms/\(room)/join").status == 404)  // the room never loaded
        let expected = what == "ca" ? "CERTIFICATE_VERIFY_FAILED" : "redis.other.example"
        #expect(logs.all.contains { $0.contains("TLS") && $0.contains(expected) }, "\(logs.all)")
    }

    @Test("SIGSTOP: each join answers 503 with Retry-After within the command timeout, polls answer from the cache; SIGCONT recovers")
    func stalledRedis() async throws {
        let server = try await TestRedisServer.start()
        let room = uniqueRoom("stall")
        let gate = try await RunningGate.start(redisURL: server.url, rooms: [room: settings(rate: 0)]) {
            $0.redisCommandTimeoutMs = 500
            $0.staleAfterMs = 500
        }
        let base = gate.base + "/v1/rooms/\(room)"
        let ticket = try #require(try await HTTP.shared.call(.POST, base + "/join").string("ticket"))

        try server.pause()
        var resumed = false
        defer { if !resumed { try? server.resume() } }
        // Joins one after another for 3 s of stall (refresh ticks time out beside them on their own lane).
        var worst = Duration.zero
        let stallEnds = ContinuousClock.now + .seconds(3)
        var joins = 0
        while ContinuousClock.now < stallEnds {
            let started = ContinuousClock.now
            let join = try await HTTP.shared.call(.POST, base + "/join")
            worst = max(worst, .now - started)
            joins += 1
            #expect(join.status == 503)
            #expect(join.headers["Retry-After"].first.flatMap { Int($0) } ?? 0 > 0)
        }
        #expect(worst < .milliseconds(1_300), "slowest 503 took \(worst) (timeout 500 ms)")
        let poll = try await HTTP.shared.call(.GET, base + "/status", bearer: ticket)
        #expect(poll.status == 200)
        #expect(poll.json["stale"] as? Bool == true)

        try server.resume()
        resumed = true
        let resumedAt = ContinuousClock.now
        try await waitUntil(timeout: .seconds(5)) { try await HTTP.shared.call(.POST, base + "/join").status == 200 }
        #expect(ContinuousClock.now - resumedAt < .seconds(3))
        #expect(joins >= 3)
    }

    @Test("a Redis reloading its data (LOADING) gets 503 with Retry-After for joins, never 500")
    func loadingIs503() async throws {
        let server = try await TestRedisServer.start(arguments: ["--loading-process-events-interval-bytes", "1024"])
        let room = uniqueRoom("loading")
        // A timeout longer than the blocking save before the reload, so the gate's connection stays up and
        // sees the LOADING replies (a shorter one would see timeouts: 503 too, but not the path under test).
        let gate = try await RunningGate.start(redisURL: server.url, rooms: [room: settings(rate: 0)]) { $0.redisCommandTimeoutMs = 30_000 }
        // DEBUG RELOAD saves and reloads 300,000 keys: seconds under CI's load, past the default 2 s deadline.
        var adminConfiguration = server.configuration
        adminConfiguration.commandTimeout = .seconds(60)
        let admin = RedisClient(configuration: adminConfiguration)
        try await admin.execute(["DEBUG", "POPULATE", "300000"])
        let base = gate.base + "/v1/rooms/\(room)"
        #expect(try await HTTP.shared.call(.POST, base + "/join").status == 200)

        let reload = Task { try await admin.execute(["DEBUG", "RELOAD"]) }
        var statuses: [Int: Int] = [:]
        var sawLoading = false
        let deadline = ContinuousClock.now + .seconds(30)
        while ContinuousClock.now < deadline {
            let join = try await HTTP.shared.call(.POST, base + "/join")
            statuses[join.status, default: 0] += 1
            if join.status == 503 {
                sawLoading = true
                #expect(join.headers["Retry-After"].first.flatMap { Int($0) } ?? 0 > 0)
            }
            if sawLoading && join.status == 200 { break }
        }
        _ = try await reload.value
        #expect(statuses[500] == nil, "\(statuses)")
        #expect(sawLoading, "no join saw the reload: \(statuses)")
        #expect(Set(statuses.keys).isSubset(of: [200, 503]), "\(statuses)")
    }
}
