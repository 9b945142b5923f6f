import Foundation
import RedisClient
import TestSupport
import Testing

@Suite("Redis client against a real redis-server")
struct RedisClientTests {
    @Test("every reply type decodes")
    func replyTypes() async throws {
        let server = try await TestRedisServer.shared()
        let redis = RedisClient(configuration: server.configuration)
        let key = uniqueKeyPrefix()
        #expect(try await redis.send(["SET", .init(key + "s"), "hello"]) == .status("OK"))
        #expect(try await redis.send(["GET", .init(key + "s")]) == .bulk(Array("hello".utf8)))
        #expect(try await redis.send(["GET", .init(key + "missing")]) == .null)
        #expect(try await redis.send(["INCRBY", .init(key + "n"), 41]) == .integer(41))
        let error = try await redis.send(["NOSUCHCOMMAND"])
        guard case .error(let message) = error else { Issue.record("expected error reply, got \(error)"); return }
        #expect(message.hasPrefix("ERR"))
        let nested = try await redis.send(["EVAL", "return {1, 'two', {3}, false}", 0])
        #expect(nested == .array([.integer(1), .bulk(Array("two".utf8)), .array([.integer(3)]), .null]))
        #expect(try await redis.mget([key + "s", key + "missing"]) == [Array("hello".utf8), nil])
        #expect(await (try? redis.execute(["NOSUCHCOMMAND"])) == nil)
        let binary: [UInt8] = [0, 13, 10, 255, 36]
        try await redis.set(key + "b", RedisArgument(binary))
        #expect(try await redis.get(key + "b") == binary)
    }

    @Test("typed commands")
    func typedCommands() async throws {
        let server = try await TestRedisServer.shared()
        let redis = RedisClient(configuration: server.configuration)
        let key = uniqueKeyPrefix()
        #expect(try await redis.set(key + "nx", "1", onlyIfAbsent: true, expireMilliseconds: 10_000))
        #expect(try await !redis.set(key + "nx", "2", onlyIfAbsent: true))
        #expect(try await redis.hset(key + "h", [("a", "1"), ("b", "2")]) == 2)
        #expect(try await redis.hgetall(key + "h") == ["a": "1", "b": "2"])
        #expect(try await redis.zadd(key + "z", [(1, "x"), (2, "y"), (3, "z")]) == 3)
        #expect(try await redis.zrangebyscore(key + "z", min: "2", max: "+inf") == ["y", "z"])
        #expect(try await redis.zrem(key + "z", ["y"]) == 1)
        #expect(try await redis.zcard(key + "z") == 2)
        #expect(try await redis.expire(key + "z", seconds: 100))
        let now = try await redis.time()
        #expect(abs(now / 1_000_000 - Int64(Date().timeIntervalSince1970)) < 5)
        #expect(try await redis.info("server")["redis_version"] != nil)
        #expect(try await redis.ping() == "PONG")
        #expect(try await redis.del([key + "h", key + "nx"]) == 2)
        #expect(try await redis.pipeline([["INCR", .init(key + "p")], ["INCR", .init(key + "p")]]) == [.integer(1), .integer(2)])
    }

    @Test("64 concurrent tasks x 5000 INCRs share one connection and stay ordered")
    func concurrentIncrements() async throws {
        let server = try await TestRedisServer.shared()
        let redis = RedisClient(configuration: server.configuration)
        let key = uniqueKeyPrefix() + "counter"
        let tasks = 64
        let perTask = 5_000
        let ordered = try await withThrowingTaskGroup(of: Bool.self) { group in
            for _ in 0..<tasks {
                group.addTask {
                    var last: Int64 = 0
                    var increasing = true
                    for _ in 0..<perTask {
                        let value = try await redis.incrby(key, 1)
                        if value <= last { increasing = false }
                        last = value
                    }
                    return increasing
                }
            }
            var all = true
            for try await increasing in group { all = all && increasing }
            return all
        }
        #expect(ordered)
        #expect(try await redis.get(key).map { String(decoding: $0, as: UTF8.self) } == "320000")
    }

    @Test("a killed server fails calls in flight with a typed error; the same client recovers after restart")
    func killAndRestart() async throws {
        let server = try await TestRedisServer.start()
        let redis = RedisClient(
            configuration: RedisConfiguration(endpoint: .tcp(host: "127.0.0.1", port: server.port), minBackoff: .milliseconds(20), maxBackoff: .milliseconds(200))
        )
        #expect(try await redis.ping() == "PONG")
        // 16 tasks hammer the server until it dies; each returns the error that stopped it.
        let load = Task {
            await withTaskGroup(of: RedisError?.self) { group in
                for _ in 0..<16 {
                    group.addTask {
                        while true {
                            do {
                                _ = try await redis.incrby("killed", 1)
                            } catch let error as RedisError {
                                return error
                            } catch {
                                return nil
                            }
                        }
                    }
                }
                var errors: [RedisError] = []
                for await error in group { if let error { errors.append(error) } }
                return errors
            }
        }
        try await waitUntil(timeout: .seconds(5)) { (try? await redis.get("killed")).flatMap { $0 }.map { String(decoding: $0, as: UTF8.self) }.flatMap { Int($0) } ?? 0 > 1000 }
        try await server.kill()
        let seen = await load.value
        #expect(seen.count == 16)
        // Typed and retryable, whichever way each loop met the kill: a call in flight fails as connectionLost,
        // one sent just after as a failed reconnect. Which of the two any loop sees depends on scheduling (the
        // release build once had all 16 loops between calls at the kill), so only the kind of error is required.
        #expect(seen.allSatisfy { $0.isConnectivity && $0.isRetryable }, "\(seen)")
        await #expect(throws: RedisError.self) { try await redis.ping() }

        try await server.launch()
        try await waitUntil(timeout: .seconds(5)) { (try? await redis.ping()) == "PONG" }
        #expect(try await redis.incrby("after-restart", 5) == 5)
    }

    @Test("EVALSHA works after SCRIPT FLUSH")
    func scriptReload() async throws {
        let server = try await TestRedisServer.shared()
        let redis = RedisClient(configuration: server.configuration)
        let key = uniqueKeyPrefix()
        let script = RedisScript("return redis.call('INCRBY', KEYS[1], ARGV[1])")
        #expect(try await redis.run(script, keys: [.init(key)], arguments: [3]) == .integer(3))
        try await redis.execute(["SCRIPT", "FLUSH"])
        #expect(try await redis.run(script, keys: [.init(key)], arguments: [4]) == .integer(7))
        await #expect(throws: RedisError.self) {
            try await redis.run(RedisScript("return redis.error_reply('boom')"), keys: [])
        }
    }

    @Test("a port that accepts but never answers times out")
    func silentServerTimesOut() async throws {
        let listener = try SilentListener()
        defer { listener.close() }
        let redis = RedisClient(
            configuration: RedisConfiguration(
                endpoint: .tcp(host: "127.0.0.1", port: listener.port),
                connectTimeout: .milliseconds(500), commandTimeout: .milliseconds(300)
            )
        )
        let started = ContinuousClock.now
        await #expect(throws: RedisError.timeout) { try await redis.ping() }
        #expect(ContinuousClock.now - started < .seconds(3))
    }

    @Test("an unreachable server fails fast with a connectivity error")
    func unreachable() async throws {
        let redis = RedisClient(configuration: RedisConfiguration(endpoint: .tcp(host: "127.0.0.1", port: try freePort())))
        do {
            _ = try await redis.ping()
            Issue.record("ping to a closed port succeeded")
        } catch {
            #expect(error.isConnectivity)
        }
    }

    @Test("unix socket, password and database from the URL")
    func authAndSelect() async throws {
        let server = try await TestRedisServer.start(arguments: ["--requirepass", "s3cr:t"])
        let url = "unix://\(server.socketPath)?db=3"
        var configuration = try RedisConfiguration(url: url)
        configuration.password = "s3cr:t"
        let redis = RedisClient(configuration: configuration)
        try await redis.set("k", "v")
        let tcp = RedisClient(configuration: try RedisConfiguration(url: "redis://:s3cr%3At@127.0.0.1:\(server.port)/3"))
        #expect(try await tcp.get("k") == Array("v".utf8))
        let wrongDb = RedisClient(configuration: try RedisConfiguration(url: "redis://default:s3cr%3At@127.0.0.1:\(server.port)/0"))
        #expect(try await wrongDb.get("k") == nil)
        let badPassword = RedisClient(configuration: try RedisConfiguration(url: "redis://:nope@127.0.0.1:\(server.port)"))
        await #expect(throws: RedisError.self) { try await badPassword.ping() }
    }
}

@Suite("Redis URLs")
struct RedisURLTests {
    @Test(arguments: [
        ("redis://127.0.0.1:6380", RedisConfiguration(endpoint: .tcp(host: "127.0.0.1", port: 6380))),
        ("redis://localhost", RedisConfiguration(endpoint: .tcp(host: "localhost", port: 6379))),
        ("redis://u:p@h:1/2", RedisConfiguration(endpoint: .tcp(host: "h", port: 1), username: "u", password: "p", database: 2)),
        ("redis://:p%40ss@h:1", RedisConfiguration(endpoint: .tcp(host: "h", port: 1), password: "p@ss")),
        ("redis://[::1]:7000/1", RedisConfiguration(endpoint: .tcp(host: "::1", port: 7000), database: 1)),
        ("unix:///tmp/r.sock", RedisConfiguration(endpoint: .unix(path: "/tmp/r.sock"))),
        ("unix:///tmp/r.sock?db=4", RedisConfiguration(endpoint: .unix(path: "/tmp/r.sock"), database: 4)),
    ])
    func parses(url: String, expected: RedisConfiguration) throws {
        #expect(try RedisConfiguration(url: url) == expected)
    }

    @Test("Sentinel and Cluster URLs: several hosts, default ports, master name, database, TLS")
    func topologies() throws {
        let sentinel = try RedisConfiguration(url: "redis-sentinel://u:p@10.0.0.1,10.0.0.2:26380,[::1]:5000/my%20primary/2")
        let hosts: [RedisConfiguration.Endpoint] = [.tcp(host: "10.0.0.1", port: 26379), .tcp(host: "10.0.0.2", port: 26380), .tcp(host: "::1", port: 5000)]
        #expect(sentinel.topology == .sentinel(.init(masterName: "my primary", sentinels: hosts, username: "u", password: "p")))
        #expect(sentinel.database == 2 && sentinel.username == "u" && sentinel.password == "p" && sentinel.tls == nil)
        #expect(try RedisConfiguration(url: "rediss-sentinel://h/m").tls != nil)
        let cluster = try RedisConfiguration(url: "rediss-cluster://:pw@a:7000,b")
        #expect(cluster.topology == .cluster(seeds: [.tcp(host: "a", port: 7000), .tcp(host: "b", port: 6379)]))
        #expect(cluster.tls != nil && cluster.password == "pw")
        #expect(try RedisConfiguration(url: "redis://h").topology == .single)
    }

    @Test(arguments: [
        "http://h:1", "redis://", "redis://h:99999", "redis://h:x", "redis://h/-1", "unix://relative", "unix:///s?x=1",
        "redis://a,b", "redis-sentinel://h", "redis-sentinel://h/", "redis-sentinel://h,/m", "redis-sentinel://h/m/x", "redis-cluster://h/1",
    ])
    func rejects(url: String) {
        #expect(throws: RedisError.invalidURL(url)) { try RedisConfiguration(url: url) }
    }
}

/// A TCP listener whose connections are accepted by the kernel and never answered.
final class SilentListener: Sendable {
    let fd: Int32
    let port: Int

    init() throws {
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = 0
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let fd = self.fd
        let ok = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { pointer -> Bool in
                bind(fd, pointer, length) == 0 && listen(fd, 16) == 0 && getsockname(fd, pointer, &length) == 0
            }
        }
        guard ok else { throw TestSupportError("cannot listen") }
        port = Int(UInt16(bigEndian: address.sin_port))
    }

    func close() { _ = Glibc.close(fd) }
}
