import Foundation
import RedisClient

/// A private `redis-server` for integration tests: its own port, unix socket and data directory.
///
/// A small watchdog shell kills the server when the test process exits, so no test leaves a Redis behind.
/// With `tls`, the port speaks TLS only (`--port 0 --tls-port N`); the unix socket stays plain, for checks.
/// `DEBUG` is enabled for local connections (tests use `DEBUG SLEEP` and `DEBUG RELOAD`). The server binary is
/// `redis-server`, or the one `WAITROOM_TEST_REDIS_SERVER` names (a Valkey build: `…/src/valkey-server`).
/// ```swift
/// let server = try await TestRedisServer.start()
/// let redis = RedisClient(configuration: server.configuration)
/// let secure = try await TestRedisServer.start(tls: try TestCertificates.make(), requireClientCertificates: true)
/// ```
public final class TestRedisServer: Sendable {
    public let port: Int
    public let directory: URL
    public let extraArguments: [String]
    /// Arguments before the others: a config file and `--sentinel` for a sentinel.
    public let leadingArguments: [String]
    /// The certificates of a TLS-only server; `nil` for plain TCP.
    public let tls: TestCertificates?
    public let requireClientCertificates: Bool

    /// `redis://127.0.0.1:port`, or `rediss://` for a TLS server (pair it with ``tls``'s CA).
    public var url: String { "\(tls == nil ? "redis" : "rediss")://127.0.0.1:\(port)" }
    public var socketPath: String { directory.appendingPathComponent("redis.sock").path }
    /// Connects by TCP (with TLS trusting the test CA for a TLS server).
    public var configuration: RedisConfiguration {
        RedisConfiguration(endpoint: .tcp(host: "127.0.0.1", port: port), tls: tls.map { RedisConfiguration.TLS(caFile: $0.caFile) })
    }
    /// The plain unix socket, also on a TLS server.
    public var socketConfiguration: RedisConfiguration {
        RedisConfiguration(endpoint: .unix(path: socketPath))
    }

    /// One server shared by every test in this process that only needs its own keys.
    public static func shared() async throws -> TestRedisServer {
        try await SharedServer.instance.get()
    }

    /// Starts a fresh server (for tests that stop, restart or reconfigure it).
    /// - Parameters:
    ///   - tls: serve TLS only, with these certificates.
    ///   - requireClientCertificates: `--tls-auth-clients yes` (clients must present a certificate of the CA).
    public static func start(arguments: [String] = [], tls: TestCertificates? = nil, requireClientCertificates: Bool = false) async throws -> TestRedisServer {
        let directory = try makeDirectory()
        let server = TestRedisServer(
            port: try freePort(), directory: directory, extraArguments: arguments, leadingArguments: [], tls: tls,
            requireClientCertificates: requireClientCertificates
        )
        try await server.launch()
        return server
    }

    /// Starts a replica of `primary` (same TLS settings).
    public static func startReplica(of primary: TestRedisServer, arguments: [String] = []) async throws -> TestRedisServer {
        var replication = ["--replicaof", "127.0.0.1", "\(primary.port)"]
        if primary.tls != nil { replication += ["--tls-replication", "yes"] }
        return try await start(arguments: replication + arguments, tls: primary.tls)
    }

    /// Starts a sentinel watching `primary` as `masterName`: it declares a server down after `downAfterMs`
    /// without an answer, and fails over when `quorum` sentinels agree. For a TLS primary the sentinel speaks
    /// TLS only too, to clients and to the servers and sentinels it watches (`tls-replication yes`).
    public static func startSentinel(monitoring primary: TestRedisServer, masterName: String, quorum: Int, downAfterMs: Int = 1_000) async throws -> TestRedisServer {
        let directory = try makeDirectory()
        let config = directory.appendingPathComponent("sentinel.conf")
        let text = """
            sentinel monitor \(masterName) 127.0.0.1 \(primary.port) \(quorum)
            sentinel down-after-milliseconds \(masterName) \(downAfterMs)
            sentinel failover-timeout \(masterName) 10000
            sentinel parallel-syncs \(masterName) 2

            """
        try text.write(to: config, atomically: true, encoding: .utf8)
        let server = TestRedisServer(
            port: try freePort(), directory: directory, extraArguments: primary.tls == nil ? [] : ["--tls-replication", "yes"],
            leadingArguments: [config.path, "--sentinel"], tls: primary.tls, requireClientCertificates: false
        )
        try await server.launch()
        return server
    }

    private static func makeDirectory() throws -> URL {
        let directory = FileManager.default.temporaryDirectory
            .appendingPathComponent("waitroom-test-redis-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        return directory
    }

    private init(port: Int, directory: URL, extraArguments: [String], leadingArguments: [String], tls: TestCertificates?, requireClientCertificates: Bool) {
        self.port = port
        self.directory = directory
        self.extraArguments = extraArguments
        self.leadingArguments = leadingArguments
        self.tls = tls
        self.requireClientCertificates = requireClientCertificates
    }

    /// Starts (or restarts) redis-server on the same port and directory, and waits until it answers.
    public func launch() async throws {
        let pidFile = directory.appendingPathComponent("redis.pid").path
        try? FileManager.default.removeItem(atPath: pidFile)
        var arguments = leadingArguments
        arguments += tls.map {
            [
                "--port", "0", "--tls-port", "\(port)", "--tls-cert-file", $0.serverCertificateFile, "--tls-key-file", $0.serverKeyFile,
                "--tls-ca-cert-file", $0.caFile, "--tls-auth-clients", requireClientCertificates ? "yes" : "no",
            ]
        } ?? ["--port", "\(port)"]
        arguments += [
            "--bind", "127.0.0.1", "--dir", directory.path, "--enable-debug-command", "local",
            "--unixsocket", socketPath, "--unixsocketperm", "700",
            "--pidfile", pidFile, "--save", "", "--appendonly", "no", "--daemonize", "no",
            "--loglevel", "warning", "--logfile", directory.appendingPathComponent("redis.log").path,
        ]
        arguments += extraArguments
        let quoted = arguments.map { "'" + $0.replacingOccurrences(of: "'", with: "'\\''") + "'" }.joined(separator: " ")
        let binary = ProcessInfo.processInfo.environment["WAITROOM_TEST_REDIS_SERVER"] ?? "redis-server"
        try startWatched("'\(binary)' \(quoted)", stop: "kill -9 $child 2>/dev/null")
        try await waitUntil(timeout: .seconds(10)) { self.answersPing() }
    }

    /// Kills the server at once (SIGKILL), as a crash would.
    public func kill() async throws {
        Foundation.kill(try pid(), SIGKILL)
        try await waitUntil(timeout: .seconds(10)) { !self.answersPing() }
    }

    /// Freezes the server (SIGSTOP): the kernel still accepts connections on its port, nothing answers.
    public func pause() throws {
        Foundation.kill(try pid(), SIGSTOP)
    }

    /// Thaws a server frozen by ``pause()`` (SIGCONT).
    public func resume() throws {
        Foundation.kill(try pid(), SIGCONT)
    }

    private func pid() throws -> pid_t {
        let pidFile = directory.appendingPathComponent("redis.pid").path
        guard let text = try? String(contentsOfFile: pidFile, encoding: .utf8), let pid = Int32(text.trimmingCharacters(in: .whitespacesAndNewlines)) else {
            throw TestSupportError("no pid file for test redis on port \(port)")
        }
        return pid
    }

    /// True when the Redis answers within `timeout`: on the TCP port (plain), or on the unix socket for a TLS
    /// server (whose port speaks TLS only).
    public func answersPing(timeout: Duration = .milliseconds(300)) -> Bool {
        let fd: Int32
        let connected: Int32
        if tls == nil {
            fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            guard fd >= 0 else { return false }
            var address = sockaddr_in()
            address.sin_family = sa_family_t(AF_INET)
            address.sin_port = in_port_t(UInt16(port).bigEndian)
            address.sin_addr.s_addr = inet_addr("127.0.0.1")
            connected = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
            }
        } else {
            fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
            guard fd >= 0 else { return false }
            var address = sockaddr_un()
            address.sun_family = sa_family_t(AF_UNIX)
            let path = Array(socketPath.utf8)
            withUnsafeMutableBytes(of: &address.sun_path) { raw in
                for (index, byte) in path.prefix(raw.count - 1).enumerated() { raw[index] = byte }
            }
            connected = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
            }
        }
        defer { close(fd) }
        let micros = Int(timeout.components.seconds) * 1_000_000 + Int(timeout.components.attoseconds / 1_000_000_000_000)
        var time = timeval(tv_sec: micros / 1_000_000, tv_usec: micros % 1_000_000)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &time, socklen_t(MemoryLayout<timeval>.size))
        guard connected == 0 else { return false }
        let ping = Array("PING\r\n".utf8)
        guard write(fd, ping, ping.count) == ping.count else { return false }
        var buffer = [UInt8](repeating: 0, count: 16)
        let count = read(fd, &buffer, buffer.count)
        // +PONG, or -NOAUTH from a server that wants a password: either way it is up.
        return count > 0 && (buffer[0] == UInt8(ascii: "+") || buffer[0] == UInt8(ascii: "-"))
    }
}

public struct TestSupportError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// Polls `condition` until it holds or `timeout` passes (tests wait for events, not for fixed sleeps).
public func waitUntil(
    timeout: Duration,
    every interval: Duration = .milliseconds(20),
    _ condition: () async throws -> Bool
) async throws {
    let deadline = ContinuousClock.now + timeout
    while ContinuousClock.now < deadline {
        if try await condition() { return }
        try await Task.sleep(for: interval)
    }
    if try await condition() { return }
    throw TestSupportError("condition not met within \(timeout)")
}

/// A TCP port nobody listens on right now.
public func freePort() throws -> Int {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    defer { close(fd) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_port = 0
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    let bound = withUnsafeMutablePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { pointer -> Int32 in
            guard bind(fd, pointer, length) == 0 else { return -1 }
            return getsockname(fd, pointer, &length)
        }
    }
    guard bound == 0 else { throw TestSupportError("cannot find a free port") }
    return Int(UInt16(bigEndian: address.sin_port))
}

/// Lazily starts the process-wide shared server once.
private actor SharedServer {
    static let instance = SharedServer()
    private var server: Task<TestRedisServer, Error>?

    func get() async throws -> TestRedisServer {
        if let server { return try await server.value }
        let task = Task { try await TestRedisServer.start() }
        server = task
        return try await task.value
    }
}

/// A unique key prefix per test, so tests sharing a server never touch each other's keys.
public func uniqueKeyPrefix(_ name: String = #function) -> String {
    "test:\(name.prefix(20)):\(UUID().uuidString.prefix(8)):"
}
