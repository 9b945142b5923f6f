import Foundation
import RedisClient

/// A private `redis-server` for integration tests: its own port, unix socket and data directory.
///
/// A small watchdog shell kills the server when the test process exits, so no test leaves a Redis behind.
/// ```swift
/// let server = try await TestRedisServer.start()
/// let redis = RedisClient(configuration: server.configuration)
/// ```
public final class TestRedisServer: Sendable {
    public let port: Int
    public let directory: URL
    public let extraArguments: [String]

    public var url: String { "redis://127.0.0.1:\(port)" }
    public var socketPath: String { directory.appendingPathComponent("redis.sock").path }
    public var configuration: RedisConfiguration {
        RedisConfiguration(endpoint: .tcp(host: "127.0.0.1", port: port))
    }

    /// One server shared by every test in this process that only needs its own keys.
    public static func shared() async throws -> TestRedisServer {
        try await SharedServer.instance.get()
    }

    /// Starts a fresh server (for tests that stop, restart or reconfigure it).
    public static func start(arguments: [String] = []) async throws -> TestRedisServer {
        let directory = FileManager.default.temporaryDirectory
            .appendingPathComponent("waitroom-test-redis-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let server = TestRedisServer(port: try freePort(), directory: directory, extraArguments: arguments)
        try await server.launch()
        return server
    }

    private init(port: Int, directory: URL, extraArguments: [String]) {
        self.port = port
        self.directory = directory
        self.extraArguments = extraArguments
    }

    /// Starts (or restarts) redis-server on the same port and directory, and waits until it answers.
    public func launch() async throws {
        let pidFile = directory.appendingPathComponent("redis.pid").path
        try? FileManager.default.removeItem(atPath: pidFile)
        var arguments = [
            "--port", "\(port)", "--bind", "127.0.0.1", "--dir", directory.path,
            "--unixsocket", socketPath, "--unixsocketperm", "700",
            "--pidfile", pidFile, "--save", "", "--appendonly", "no", "--daemonize", "no",
            "--loglevel", "warning", "--logfile", directory.appendingPathComponent("redis.log").path,
        ]
        arguments += extraArguments
        let quoted = arguments.map { "'" + $0.replacingOccurrences(of: "'", with: "'\\''") + "'" }.joined(separator: " ")
        let parent = ProcessInfo.processInfo.processIdentifier
        let script = """
            redis-server \(quoted) &
            child=$!
            while kill -0 \(parent) 2>/dev/null && kill -0 $child 2>/dev/null; do sleep 0.5; done
            kill -9 $child 2>/dev/null
            """
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/sh")
        process.arguments = ["-c", script]
        // Not the test's own pipes: the runner waits for them to close before it reaps the test process.
        process.standardInput = FileHandle.nullDevice
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        try await waitUntil(timeout: .seconds(10)) { self.answersPing() }
    }

    /// Kills the server at once (SIGKILL), as a crash would.
    public func kill() async throws {
        let pidFile = directory.appendingPathComponent("redis.pid").path
        guard let text = try? String(contentsOfFile: pidFile, encoding: .utf8), let pid = Int32(text.trimmingCharacters(in: .whitespacesAndNewlines)) else {
            throw TestSupportError("no pid file for test redis on port \(port)")
        }
        Foundation.kill(pid, SIGKILL)
        try await waitUntil(timeout: .seconds(10)) { !self.answersPing() }
    }

    /// True when a Redis accepts TCP connections on the port and answers.
    public func answersPing() -> Bool {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        var timeout = timeval(tv_sec: 0, tv_usec: 300_000)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
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
