import AsyncHTTPClient
import DropSimulator
import Foundation
import Hummingbird
import Logging
import NIOCore
import NIOHTTP1
import RedisClient
import Synchronization
import TestSupport
import Testing
import WaitingRoomCore
import WaitingRoomServer
import WaitingRoomStore
import WaitingRoomTokens

/// A gate instance running on a free loopback port against a test Redis.
final class RunningGate: Sendable {
    let gate: Gate
    let port: Int
    private let task: Task<Void, Error>

    var base: String { "http://127.0.0.1:\(port)" }

    private init(gate: Gate, port: Int, task: Task<Void, Error>) {
        self.gate = gate
        self.port = port
        self.task = task
    }

    /// Shared by every instance in a test, as in production: one signing key, one ticket secret.
    static let keyFile: String = {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("waitroom-test-key-\(UUID().uuidString).pem").path
        try! Ed25519PrivateKey().pem().write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }()

    static let adminKey = "admin-key-for-tests-0123456789"
    static let serviceKey = "service-key-for-tests-0123456789"

    /// - Parameter logs: receives the gate's log lines (`logLevel` and up, by default warning) when given;
    ///   otherwise only critical ones are logged.
    static func start(
        redisURL: String, rooms: [String: RoomSettings] = [:], logs: LogCapture? = nil, logLevel: Logger.Level = .warning,
        adjust: (inout GateConfiguration) -> Void = { _ in }
    ) async throws -> RunningGate {
        var configuration = GateConfiguration()
        configuration.httpPort = try freePort()
        configuration.redisURL = redisURL
        configuration.signingKeyFiles = [keyFile]
        configuration.ticketSecret = "ticket-secret-shared-by-instances"
        configuration.adminKey = adminKey
        configuration.serviceKey = serviceKey
        configuration.rooms = rooms
        configuration.redisCommandTimeoutMs = 500
        adjust(&configuration)
        var logger = logs.map { logs in Logger(label: "gate-test") { _ in logs } } ?? Logger(label: "gate-test")
        logger.logLevel = logs == nil ? .critical : logLevel
        guard let started = StartedGates.current else { throw StartedGates.NotInScope() }
        let (app, gate) = try await GateApplication.buildWithGate(configuration: configuration, logger: logger)
        let task = Task { try await app.run() }
        let running = RunningGate(gate: gate, port: configuration.httpPort, task: task)
        started.add(running)
        try await waitUntil(timeout: .seconds(10)) { (try? await HTTP.shared.call(.GET, running.base + "/healthz").status) == 200 }
        return running
    }

    /// Stops the gate and waits until it has (stopping twice is fine).
    func stop() async {
        task.cancel()
        _ = await task.result
    }
}

/// Gates a test started are stopped — and their stop awaited — when the test ends, passed or failed; a
/// `defer { Task { await gate.stop() } }` returned at once, and the next test began beside gates still
/// ticking. Put `.stopsGates` on every suite that starts gates (``RunningGate/start`` refuses otherwise).
struct StopsGates: SuiteTrait, TestTrait, TestScoping {
    var isRecursive: Bool { true }

    /// A scope per test case, not one for the whole suite.
    func scopeProvider(for test: Test, testCase: Test.Case?) -> StopsGates? { testCase == nil ? nil : self }

    func provideScope(for test: Test, testCase: Test.Case?, performing function: @Sendable () async throws -> Void) async throws {
        let started = StartedGates()
        try await StartedGates.$current.withValue(started) {
            do {
                try await function()
            } catch {
                await started.stopAll()
                throw error
            }
            await started.stopAll()
        }
    }
}

extension Trait where Self == StopsGates {
    static var stopsGates: Self { StopsGates() }
}

/// The gates started in the current test (a task local, so gates started from child tasks count too).
final class StartedGates: Sendable {
    @TaskLocal static var current: StartedGates?
    private let gates = Mutex<[RunningGate]>([])

    struct NotInScope: Error, CustomStringConvertible {
        var description: String { "RunningGate.start outside a .stopsGates suite: nothing would stop the gate" }
    }

    func add(_ gate: RunningGate) { gates.withLock { $0.append(gate) } }

    func stopAll() async {
        for gate in gates.withLock({ $0 }).reversed() { await gate.stop() }
    }
}

/// A small JSON-over-HTTP client for tests, on AsyncHTTPClient (pooled connections, like many browsers).
struct HTTP: Sendable {
    static let shared = HTTP()
    let client: HTTPClient

    init() {
        var configuration = HTTPClient.Configuration()
        configuration.connectionPool.concurrentHTTP1ConnectionsPerHostSoftLimit = 64
        configuration.timeout.read = .seconds(20)
        client = HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
    }

    struct Reply: Sendable {
        var status: Int
        var headers: HTTPHeaders
        var body: String
        var json: [String: any Sendable] {
            ((try? JSONSerialization.jsonObject(with: Data(body.utf8))) as? [String: Any]).map { $0.mapValues { $0 as! any Sendable } } ?? [:]
        }
        func string(_ key: String) -> String? { json[key] as? String }
        func int(_ key: String) -> Int? { json[key] as? Int }
    }

    func call(_ method: HTTPMethod, _ url: String, bearer: String? = nil, body: String? = nil, headers extra: [(String, String)] = []) async throws -> Reply {
        var request = HTTPClientRequest(url: url)
        request.method = method
        if let bearer { request.headers.add(name: "Authorization", value: "Bearer \(bearer)") }
        for (name, value) in extra { request.headers.add(name: name, value: value) }
        if let body {
            request.headers.add(name: "Content-Type", value: "application/json")
            request.body = .bytes(ByteBuffer(string: body))
        }
        let response = try await client.execute(request, timeout: .seconds(20))
        let bytes = try await response.body.collect(upTo: 1 << 22)
        return Reply(status: Int(response.status.code), headers: response.headers, body: String(buffer: bytes))
    }
}

/// A unique room name per test (tests share one Redis).
func uniqueRoom(_ prefix: String = "r") -> String {
    "\(prefix)-\(UUID().uuidString.prefix(8).lowercased())"
}

/// Room settings for tests. Every test shopper joins from 127.0.0.1, so the per-client join limit is off
/// here (its own tests turn it on).
func settings(rate: Double, capacity: Int? = nil, claimWindow: Int = 60, ttl: Int = 600) -> RoomSettings {
    var settings = RoomSettings(rate: rate, capacity: capacity, claimWindowSeconds: claimWindow, sessionTTLSeconds: ttl, checkoutUrl: "https://shop.example/checkout")
    settings.joinsPerClientPerMinute = 0
    return settings
}

/// Collects log lines (message and metadata as one string) so a test can look for one.
final class LogCapture: LogHandler, Sendable {
    private let lines = Mutex<[String]>([])
    var metadata: Logger.Metadata {
        get { [:] }
        set {}
    }
    var logLevel: Logger.Level {
        get { .trace }
        set {}
    }

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { nil }
        set {}
    }

    func log(event: LogEvent) {
        let metadata = (event.metadata ?? [:]).map { "\($0.key)=\($0.value)" }.sorted().joined(separator: " ")
        lines.withLock { $0.append("\(event.level) \(event.message) \(metadata)") }
    }

    var all: [String] { lines.withLock { $0 } }
}

/// FIFO violations in a test's polls, counted by the drop simulator's own check (one check, not a copy per
/// test): shoppers told to wait after someone behind them was admitted, allowing one cache refresh (300 ms).
func fifoViolations(
    polls: [(seq: Int64, startedAt: ContinuousClock.Instant, waiting: Bool)], firstAdmission: [Int64: ContinuousClock.Instant]
) -> Int {
    guard let epoch = (polls.map(\.startedAt) + firstAdmission.values).min() else { return 0 }
    return DropAnalysis.fifoViolations(
        polls: polls.map { PollObservation(seq: $0.seq, startedAt: ($0.startedAt - epoch).seconds, waiting: $0.waiting) },
        admissions: firstAdmission.mapValues { ($0 - epoch).seconds }, tolerance: 0.3
    )
}
