import Foundation
import Hummingbird
import RedisClient
import TestSupport
import Testing
import WaitingRoomCore
import WaitingRoomServer
import WaitingRoomStore

/// The rate that tunes itself, through the gate: checkout's health route, the effective rate in the room
/// view and its event, ops' overrides, and gates agreeing on one decision per interval.
@Suite("Rate tuning through the gate", .stopsGates, .serialized)
struct RateTuningTests {
    static func tunedSettings(rate: Double = 50, minRate: Double = 5) -> RoomSettings {
        var room = settings(rate: rate)
        room.autoTune = true
        room.minRate = minRate
        room.targetLatencyMs = 1_000
        room.maxErrorRatio = 0.05
        return room
    }

    func postHealth(_ gate: RunningGate, _ room: String, _ body: String, key: String? = RunningGate.serviceKey) async throws -> HTTP.Reply {
        try await HTTP.shared.call(.POST, gate.base + "/v1/rooms/\(room)/health", bearer: key, body: body)
    }

    func view(_ gate: RunningGate, _ room: String) async throws -> [String: any Sendable] {
        let reply = try await HTTP.shared.call(.GET, gate.base + "/admin/v1/rooms/\(room)", bearer: RunningGate.adminKey)
        return (reply.json["live"] as? [String: any Sendable]) ?? [:]
    }

    @Test("a good health post is stored (204); every bad one is a 400 JSON error that changes nothing; only the service key may post")
    func healthRoute() async throws {
        let server = try await TestRedisServer.shared()
        let room = uniqueRoom("health")
        let gate = try await RunningGate.start(redisURL: server.url, rooms: [room: Self.tunedSettings()])
        let redis = RedisClient(configuration: server.configuration)
        defer { redis.close() }
        let key = RoomKeys(room: room).state

        for bearer in [nil, RunningGate.adminKey, "wrong-wrong-wrong-wrong"] {
            #expect(try await postHealth(gate, room, #"{"p95Ms": 100, "errorRatio": 0}"#, key: bearer).status == 401)
        }
        #expect(try await redis.hgetall(key)["healthP95Ms"] == nil)

        let good = try await postHealth(gate, room, #"{"p95Ms": 120, "errorRatio": 0.01, "inFlight": 4}"#)
        #expect(good.status == 204)
        let stored = try await redis.hgetall(key)
        #expect(stored["healthP95Ms"] == "120" && stored["healthErrorRatio"] == "0.01" && stored["healthInFlight"] == "4")
        let atMs = stored["healthAtMs"]

        let bad: [(String, String)] = [
            (#"{"p95Ms": 120, "errorRatio": 2}"#, "invalid_errorRatio"),
            (#"{"p95Ms": -5, "errorRatio": 0}"#, "invalid_p95Ms"),
            (#"{"p95Ms": 1.5, "errorRatio": 0}"#, "invalid_p95Ms"),
            (#"{"p95Ms": "120", "errorRatio": 0}"#, "invalid_p95Ms"),
            (#"{"errorRatio": 0}"#, "invalid_p95Ms"),
            (#"{"p95Ms": 120}"#, "invalid_errorRatio"),
            (#"{"p95Ms": 120, "errorRatio": null}"#, "invalid_errorRatio"),
            (#"{"p95Ms": 120, "errorRatio": 0, "surprise": 1}"#, "unknown_field"),
            (#"{"p95Ms": 120, "errorRatio": 0, "p95Ms": 1}"#, "duplicate_key"),
            (#"[1, 2]"#, "malformed_json"),
            (#"not json"#, "malformed_json"),
        ]
        for (body, code) in bad {
            let reply = try await postHealth(gate, room, body)
            #expect(reply.status == 400 && reply.string("error") == code, "\(body): \(reply.status) \(reply.body)")
            #expect(reply.headers["Content-Type"].first?.hasPrefix("application/json") == true)
        }
        let after = try await redis.hgetall(key)
        #expect(after["healthP95Ms"] == "120" && after["healthErrorRatio"] == "0.01" && after["healthAtMs"] == atMs, "no bad post changed anything")
        // An unknown room is a 404 and creates nothing.
        let missing = uniqueRoom("nohealth")
        #expect(try await postHealth(gate, missing, #"{"p95Ms": 1, "errorRatio": 0}"#).status == 404)
        #expect(try await redis.hgetall(RoomKeys(room: missing).state).isEmpty)
    }

    @Test("degraded checkout: the effective rate backs off, the view shows target, effective and why, and each move is a room.rate_tuned event")
    func backsOff() async throws {
        let server = try await TestRedisServer.shared()
        let room = uniqueRoom("tuned")
        let gate = try await RunningGate.start(redisURL: server.url, rooms: [room: Self.tunedSettings(rate: 50, minRate: 5)])
        // Shoppers waiting, so the rate binds.
        for _ in 0..<3 { _ = try await HTTP.shared.call(.POST, gate.base + "/v1/rooms/\(room)/join") }
        let reporter = Task {
            while !Task.isCancelled {
                _ = try? await postHealth(gate, room, #"{"p95Ms": 4000, "errorRatio": 0.2}"#)
                try? await Task.sleep(for: .milliseconds(300))
            }
        }
        defer { reporter.cancel() }
        try await waitUntil(timeout: .seconds(15)) {
            guard let live = try? await view(gate, room), let rate = live["effectiveRate"] as? Double else { return false }
            return rate <= 35
        }
        let live = try await view(gate, room)
        #expect(live["targetRate"] as? Double == 50)
        let tuning = try #require(live["tuning"] as? [String: any Sendable])
        #expect(tuning["reason"] as? String == "degraded")
        #expect(tuning["p95Ms"] as? Int == 4000)
        // The snapshot every gate caches carries the rate, so the forecast (ETA, poll interval) follows it.
        let snapshot = try #require(gate.gate.cache.entry(room)?.snapshot)
        #expect(snapshot.settings.admissionRate <= 35)
        #expect(AdmissionForecast.secondsToOffer(35, settings: snapshot.settings, openedAtMs: snapshot.openedAtMs, nowMs: snapshot.redisNowMs, showUp: 1, slotsFreeingPerSecond: nil)! >= 1)
        // The event is in the stream (for hooks and the warehouse) and in the report.
        let events = try await gate.gate.store.events(room: room, type: "room.rate_tuned", fromMs: 0, toMs: Int64(Date().timeIntervalSince1970 * 1000) + 60_000)
        #expect(!events.isEmpty)
        #expect(events.contains { $0.data.contains(#""reason":"degraded""#) }, "\(events.map(\.data))")
        let report = try await HTTP.shared.call(.GET, gate.base + "/admin/v1/rooms/\(room)/report", bearer: RunningGate.adminKey)
        #expect(report.status == 200)
        #expect((report.json["rateChanges"] as? [Any])?.isEmpty == false)
    }

    @Test("a checkout that cannot push: one gate reads the room's healthUrl each interval, and a degraded answer backs the rate off")
    func readsHealthUrl() async throws {
        let server = try await TestRedisServer.shared()
        // The order service's health endpoint, on loopback: degraded, and counting how often it is read.
        let reads = Locked<Int>(0)
        let router = Router()
        router.get("/health") { _, _ -> Response in
            reads.withLock { $0 += 1 }
            return Response(status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(string: #"{"p95Ms": 4000, "errorRatio": 0.2}"#)))
        }
        let port = try freePort()
        let checkout = Application(router: router, configuration: .init(address: .hostname("127.0.0.1", port: port)))
        let serving = Task { try await checkout.runService() }
        defer { serving.cancel() }
        try await waitUntil(timeout: .seconds(10)) { (try? await HTTP.shared.call(.GET, "http://127.0.0.1:\(port)/health").status) == 200 }
        let before = reads.withLock { $0 }

        let room = uniqueRoom("tuned-url")
        var tuned = Self.tunedSettings(rate: 50, minRate: 5)
        tuned.healthUrl = "http://127.0.0.1:\(port)/health"
        let gate = try await RunningGate.start(redisURL: server.url, rooms: [room: tuned])
        for _ in 0..<3 { _ = try await HTTP.shared.call(.POST, gate.base + "/v1/rooms/\(room)/join") }
        try await waitUntil(timeout: .seconds(15)) {
            guard let live = try? await view(gate, room), let rate = live["effectiveRate"] as? Double else { return false }
            return rate <= 35
        }
        let tuning = try #require(try await view(gate, room)["tuning"] as? [String: any Sendable])
        #expect(tuning["reason"] as? String == "degraded")
        #expect(tuning["p95Ms"] as? Int == 4000, "the figures came from the URL: nothing was posted")
        #expect(reads.withLock { $0 } > before, "the gate read the health URL")
    }

    @Test("ops win at once: a rate set by hand clears the tuned rate; a pause stops the tuner")
    func manualWins() async throws {
        let server = try await TestRedisServer.shared()
        let room = uniqueRoom("manual")
        let gate = try await RunningGate.start(redisURL: server.url, rooms: [room: Self.tunedSettings(rate: 50, minRate: 5)])
        _ = try await HTTP.shared.call(.POST, gate.base + "/v1/rooms/\(room)/join")
        let reporter = Task {
            while !Task.isCancelled {
                _ = try? await postHealth(gate, room, #"{"p95Ms": 4000, "errorRatio": 0}"#)
                try? await Task.sleep(for: .milliseconds(300))
            }
        }
        defer { reporter.cancel() }
        try await waitUntil(timeout: .seconds(15)) { ((try? await view(gate, room))?["effectiveRate"] as? Double ?? 50) < 50 }
        // Ops raise the rate: the answer to the PATCH already runs at it (the tuned rate, below 50, is gone).
        let patched = try await HTTP.shared.call(.PATCH, gate.base + "/admin/v1/rooms/\(room)", bearer: RunningGate.adminKey, body: #"{"rate": 60}"#)
        #expect(patched.status == 200)
        let live = (patched.json["live"] as? [String: any Sendable]) ?? [:]
        #expect(live["effectiveRate"] as? Double == 60, "\(patched.body)")
        #expect(live["targetRate"] as? Double == 60)
        // A pause holds everything at once; the tuner leaves a paused room alone.
        let paused = try await HTTP.shared.call(.POST, gate.base + "/admin/v1/rooms/\(room)/pause", bearer: RunningGate.adminKey)
        #expect(paused.status == 200)
        let store = gate.gate.store
        #expect(try await store.beginTuning(room: room, intervalMs: 0) == nil)
        // Turning auto-tuning off: the rate is the rate.
        _ = try await HTTP.shared.call(.PATCH, gate.base + "/admin/v1/rooms/\(room)", bearer: RunningGate.adminKey, body: #"{"autoTune": false}"#)
        #expect(try await view(gate, room)["effectiveRate"] as? Double == 60)
    }

    @Test("settings: minRate above rate is a 400; lowering the rate below minRate lowers it with a note")
    func settingsValidation() async throws {
        let server = try await TestRedisServer.shared()
        let room = uniqueRoom("tunedset")
        let gate = try await RunningGate.start(redisURL: server.url, rooms: [room: Self.tunedSettings(rate: 50, minRate: 5)])
        let refused = try await HTTP.shared.call(.PATCH, gate.base + "/admin/v1/rooms/\(room)", bearer: RunningGate.adminKey, body: #"{"minRate": 60}"#)
        #expect(refused.status == 400 && refused.string("error") == "invalid_minRate")
        let badURL = try await HTTP.shared.call(.PATCH, gate.base + "/admin/v1/rooms/\(room)", bearer: RunningGate.adminKey, body: #"{"healthUrl": "/health"}"#)
        #expect(badURL.status == 400 && badURL.string("error") == "invalid_healthUrl")
        let lowered = try await HTTP.shared.call(.PATCH, gate.base + "/admin/v1/rooms/\(room)", bearer: RunningGate.adminKey, body: #"{"rate": 2}"#)
        #expect(lowered.status == 200)
        let adjusted = (lowered.json["adjusted"] as? [[String: any Sendable]]) ?? []
        #expect(adjusted.contains { $0["field"] as? String == "minRate" })
    }

    @Test("one decision per interval on Redis's clock: a second gate asking in the same interval gets none; a stale decision is not written")
    func oneDecidesPerInterval() async throws {
        let server = try await TestRedisServer.shared()
        let room = uniqueRoom("interval")
        let redis = RedisClient(configuration: server.configuration)
        defer { redis.close() }
        let (one, two) = (RoomStore(redis: redis), RoomStore(redis: redis))
        let clock: Int64 = 1_800_000_000_000
        try await one.write(room: room, settings: Self.tunedSettings(rate: 50, minRate: 5), mode: .createOrReplace, now: Date(timeIntervalSince1970: 1_800_000_000), clockMs: clock)
        let taken = try #require(try await one.beginTuning(room: room, intervalMs: 2_000, clockMs: clock))
        #expect(try await two.beginTuning(room: room, intervalMs: 2_000, clockMs: clock + 500) == nil)
        #expect(try await one.beginTuning(room: room, intervalMs: 2_000, clockMs: clock + 1_999) == nil)
        let later = try #require(try await two.beginTuning(room: room, intervalMs: 2_000, clockMs: clock + 2_000))
        // The first gate's decision comes too late: the second gate has taken the next interval.
        let stale = RateController.decide(taken.input)
        #expect(try await one.applyTuning(room: room, taken, decision: stale, eventJSON: nil, clockMs: clock + 2_100) == false)
        var decision = RateController.decide(later.input)
        decision.effectiveRate = 20
        #expect(try await two.applyTuning(room: room, later, decision: decision, eventJSON: #"{"to":20}"#, clockMs: clock + 2_100))
        #expect(try await one.settings(room: room)?.effectiveRate == 20)
        #expect(try await one.settings(room: room)?.admissionRate == 20)
        _ = try await one.delete(room: room)
    }

    @Test("two gates running: they agree on one stored rate, and the decisions chain (no interval decided twice)")
    func twoGatesAgree() async throws {
        let server = try await TestRedisServer.shared()
        let room = uniqueRoom("twotuned")
        let first = try await RunningGate.start(redisURL: server.url, rooms: [room: Self.tunedSettings(rate: 50, minRate: 5)])
        let second = try await RunningGate.start(redisURL: server.url)
        // Live: both gates running their tuners converge on one stored rate.
        _ = try await HTTP.shared.call(.POST, first.base + "/v1/rooms/\(room)/join")
        let reporter = Task {
            while !Task.isCancelled {
                _ = try? await postHealth(first, room, #"{"p95Ms": 3000, "errorRatio": 0}"#)
                try? await Task.sleep(for: .milliseconds(300))
            }
        }
        defer { reporter.cancel() }
        try await waitUntil(timeout: .seconds(20)) {
            let a = first.gate.cache.entry(room)?.snapshot.settings.effectiveRate
            let b = second.gate.cache.entry(room)?.snapshot.settings.effectiveRate
            return a != nil && a == b && (a ?? 50) < 50
        }
        reporter.cancel()
        let events = try await first.gate.store.events(room: room, type: "room.rate_tuned", fromMs: 0, toMs: Int64(Date().timeIntervalSince1970 * 1000) + 60_000)
        // Each decision moved the rate from where the previous one left it: no two gates decided the same interval.
        var last: Double?
        for event in events {
            let data = try JSONDecoder().decode([String: JSONValue].self, from: Data(event.data.utf8))
            guard case .number(let from)? = data["from"], case .number(let to)? = data["to"] else { continue }
            if let last { #expect(from == last, "\(events.map(\.data))") }
            last = to
        }
    }
}
