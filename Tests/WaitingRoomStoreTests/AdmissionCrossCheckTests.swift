// Reaches into internals (`@testable`): built and run on the debug build only. The release build runs the
// suites that see the modules as shipped (`make test-release`).
#if DEBUG
import Foundation
import RedisClient
import TestSupport
import Testing
import WaitingRoomCore
@testable import WaitingRoomStore

/// The tick, claim, release and state-change scripts against ``AdmissionModel``: the same operations on the
/// same clock through both, and the same state required after every step.
@Suite("Admission model and its Lua transcription agree step by step", .serialized)
struct AdmissionCrossCheckTests {
    /// A scenario step.
    enum Step: CustomStringConvertible {
        case advance(Int64)
        case join(Int)
        case tick
        case claim(position: Int64, ticket: String)
        case release(jti: String)
        case settings(RoomSettings)
        case action(RoomAction)
        /// The rate tuner decides this effective rate (applied only to an open, auto-tuned room).
        case tune(Double)

        var description: String {
            switch self {
            case .advance(let ms): return "advance \(ms) ms"
            case .join(let n): return "join \(n)"
            case .tick: return "tick"
            case .claim(let position, let ticket): return "claim \(position) as \(ticket)"
            case .release(let jti): return "release \(jti)"
            case .settings(let s): return "settings rate=\(s.rate) capacity=\(s.capacity.map(String.init) ?? "-") ramp=\(s.rampSeconds.map(String.init) ?? "-") autoTune=\(s.autoTune) minRate=\(s.minRate)"
            case .action(let action): return action.rawValue
            case .tune(let rate): return "tune to \(rate)"
            }
        }
    }

    /// Runs `steps` through the model and through Redis; returns how many steps were compared.
    @discardableResult
    static func replay(_ steps: [Step], initial: RoomSettings, startMs: Int64 = 1_800_000_000_000, store: RoomStore) async throws -> Int {
        let room = "x-\(UUID().uuidString.prefix(8).lowercased())"
        var now = startMs
        var settings = initial
        let created = try await store.write(room: room, settings: settings, mode: .createOrReplace, now: Date(timeIntervalSince1970: Double(now) / 1000), clockMs: now)
        #expect(created == .created)
        var model = AdmissionState(state: (settings.opensAt.map { $0.timeIntervalSince1970 * 1000 > Double(now) } ?? false) ? .scheduled : .open, nowMs: now)
        let epoch = try #require(try await store.redis.hgetall(RoomKeys(room: room).state)["epoch"])
        var jtiCounter = 0
        // One ticket, one admission: every jti Redis handed each ticket.
        var admitted: [String: Set<String>] = [:]
        for (index, step) in steps.enumerated() {
            switch step {
            case .advance(let ms):
                now += ms
            case .join(let n):
                let result = try await store.join(room: room, count: n)
                if model.state == .closed {
                    #expect(result == .closed, "step \(index): \(step)")
                } else {
                    #expect(result == .placed(firstSeq: model.tail + 1, state: model.state, epoch: epoch), "step \(index): \(step)")
                    model.tail += Int64(n)
                }
            case .tick:
                model = AdmissionModel.tick(model, settings: settings, nowMs: now).state
                let snapshots = try await store.tick(rooms: [room], clockMs: now)
                #expect(snapshots[room]?.redisNowMs == now)
            case .claim(let position, let ticket):
                jtiCounter += 1
                let jti = "j\(jtiCounter)"
                let expected = AdmissionModel.claim(model, settings: settings, ticketID: ticket, position: position, jti: jti, nowMs: now)
                model = expected.state
                let actual = try await store.claim(room: room, ticketID: ticket, epoch: epoch, effectivePosition: position, jti: jti, clockMs: now)
                if case .admitted(let admission, _) = actual {
                    // An admission handed out is a live one: never a session that is already over.
                    #expect(admission.expiresAtMs > now, "step \(index) \(step): admitted with a session that ended at \(admission.expiresAtMs)")
                    admitted[ticket, default: []].insert(admission.jti)
                    #expect(admitted[ticket]?.count == 1, "step \(index) \(step): ticket \(ticket) admitted as \(admitted[ticket] ?? [])")
                }
                switch (expected.outcome, actual) {
                case (.admitted(let a), .admitted(let b, _)): #expect(a == b, "step \(index): \(step)")
                case (.ended, .done(.expired)), (.waiting, .waiting), (.expired, .expired), (.closed, .closed): break
                default: Issue.record("step \(index) \(step): model \(expected.outcome), Redis \(actual)")
                }
            case .release(let jti):
                let expected = AdmissionModel.release(model, jti: jti)
                model = expected.state
                #expect(try await store.release(room: room, jti: jti, ticketID: "unknown") == expected.released, "step \(index): \(step)")
            case .settings(let changed):
                var next = changed
                next.opensAt = settings.opensAt
                next = next.carryingTuning(from: settings)  // a rate set by hand clears the tuner's rate
                model = AdmissionModel.settingsChanged(model, from: settings, to: next, nowMs: now)
                settings = next
                #expect(try await store.write(room: room, settings: settings, mode: .update, clockMs: now) == .replaced)
            case .tune(let rate):
                let interval = try await store.beginTuning(room: room, intervalMs: 0, clockMs: now)
                if settings.autoTune && model.state == .open {
                    let taken = try #require(interval, "step \(index): \(step)")
                    let decision = RateController.Decision(
                        effectiveRate: rate, reason: .healthy, memory: RateController.Memory(atMs: now, counters: taken.input.counters), changed: true)
                    var next = settings
                    next.effectiveRate = rate
                    model = AdmissionModel.settingsChanged(model, from: settings, to: next, nowMs: now)
                    settings = next
                    #expect(try await store.applyTuning(room: room, taken, decision: decision, eventJSON: nil, clockMs: now), "step \(index): \(step)")
                } else {
                    #expect(interval == nil, "step \(index): \(step)")
                }
            case .action(let action):
                let expected = AdmissionModel.change(model, settings: &settings, action: action, nowMs: now)
                let actual = try await store.change(room: room, action, clockMs: now)
                if let expected {
                    model = expected
                    #expect(actual == .changed(action == .open && expected.state == .scheduled ? .scheduled : expected.state), "step \(index): \(step)")
                } else {
                    #expect(actual == .conflict(current: model.state), "step \(index): \(step)")
                }
            }
            let stored = try await Self.state(of: room, redis: store.redis)
            if stored != Self.comparable(model) {
                Issue.record("step \(index) (\(step)) diverged:\nmodel \(Self.comparable(model))\nredis \(stored)")
                return index
            }
        }
        _ = try await store.delete(room: room)
        return steps.count
    }

    /// The model's state without what Redis keeps elsewhere (admission records by ticket live in their own keys).
    static func comparable(_ state: AdmissionState) -> AdmissionState {
        var copy = state
        copy.claimed = [:]
        return copy
    }

    /// The room's admission state as Redis holds it.
    static func state(of room: String, redis: RedisClient) async throws -> AdmissionState {
        let keys = RoomKeys(room: room)
        let fields = try await redis.hgetall(keys.state)
        func int(_ name: String) -> Int64 { fields[name].flatMap { Int64($0) } ?? 0 }
        func double(_ name: String, _ fallback: Double = 0) -> Double { fields[name].flatMap(Double.init) ?? fallback }
        var state = AdmissionState(state: RoomState(rawValue: fields["state"] ?? "") ?? .closed, nowMs: int("lastTickMs"))
        state.tail = int("tail")
        state.head = int("head")
        state.bucket = double("bucket")
        state.openedAtMs = int("openedAtMs")
        state.prequeue = int("prequeue")
        state.offersLive = int("offersLive")
        state.lapsed = int("lapsed")
        state.claims = int("claims")
        state.releases = int("releases")
        state.finOffered = double("finOffered")
        state.finClaimed = double("finClaimed")
        state.showUp = double("showUp", 1)
        state.offerRate = double("offerRate")
        state.entryTatMs = double("entryTatMs")
        let claims = try await RedisClient.fieldMap(try await redis.execute(["HGETALL", RedisArgument(keys.offerClaims)]))
        let batches = try await redis.execute(["ZRANGE", RedisArgument(keys.offers), "0", "-1"])
        state.batches = (batches.array ?? []).compactMap(\.string).compactMap { member in
            let parts = member.split(separator: ":").compactMap { Int64($0) }
            guard parts.count == 3 else { return nil }
            return OfferBatch(head: parts[0], offeredAtMs: parts[1], size: parts[2], claimed: claims[String(parts[0])].flatMap { Int64($0) } ?? 0)
        }
        let active = try await redis.execute(["ZRANGE", RedisArgument(keys.active), "0", "-1", "WITHSCORES"])
        let flat = (active.array ?? []).compactMap(\.string)
        for index in stride(from: 0, to: flat.count - 1, by: 2) { state.admissions[flat[index]] = Int64(Double(flat[index + 1]) ?? 0) }
        return state
    }

    /// A reproducible random scenario: joins, ticks, claims (including lapsed, early and repeated ones),
    /// releases, rate / capacity / ramp / claim-window changes, pauses, resumes, closes and reopenings.
    static func randomScenario(seed: UInt64, steps count: Int) -> (RoomSettings, [Step]) {
        var random = SplitMix64(seed: seed)
        var settings = RoomSettings(rate: Double(random.next(upTo: 40)) + 0.5, claimWindowSeconds: 2 + Int(random.next(upTo: 6)), sessionTTLSeconds: 30 + Int(random.next(upTo: 60)), checkoutUrl: "/checkout")
        if random.next(upTo: 2) == 0 { settings.capacity = 5 + Int(random.next(upTo: 40)) }
        // Auto-tuned half the time, so the tuner's rate is in play from the first settings change.
        settings.autoTune = seed % 2 == 0
        settings.minRate = min(settings.rate, Double(random.next(upTo: 10)))
        var steps: [Step] = []
        var head: Int64 = 0
        var tickets: [String] = []
        var jtis = 0
        for _ in 0..<count {
            switch random.next(upTo: 100) {
            case 0..<25: steps.append(.advance(Int64(random.next(upTo: 1_500))))
            case 25..<40:
                steps.append(.join(1 + Int(random.next(upTo: 25))))
            case 40..<65:
                steps.append(.tick)
                head += 20  // an upper bound: claims below pick positions up to a little past it
            case 65..<85:
                let ticket = tickets.isEmpty || random.next(upTo: 4) != 0 ? "t\(tickets.count)" : tickets[Int(random.next(upTo: UInt64(tickets.count)))]
                if !tickets.contains(ticket) { tickets.append(ticket) }
                steps.append(.claim(position: 1 + Int64(random.next(upTo: UInt64(max(head, 1)))), ticket: ticket))
                jtis += 1
            case 85..<88:
                if jtis > 0 { steps.append(.release(jti: "j\(1 + random.next(upTo: UInt64(jtis)))")) }
            case 88..<90:
                // Any rate the tuner might store, even out of bounds: the model and the scripts clamp it alike.
                steps.append(.tune(Double(random.next(upTo: 600)) / 10))
            case 90..<95:
                var changed = settings
                switch random.next(upTo: 6) {
                case 0: changed.rate = Double(random.next(upTo: 50)) / Double(1 + random.next(upTo: 4))
                case 1: changed.capacity = random.next(upTo: 2) == 0 ? nil : Int(random.next(upTo: 50))
                case 2:
                    changed.rampSeconds = random.next(upTo: 2) == 0 ? nil : 1 + Int(random.next(upTo: 30))
                    changed.rampStartRate = random.next(upTo: 2) == 0 ? nil : min(changed.rate, Double(random.next(upTo: 10)))
                case 3: changed.claimWindowSeconds = 1 + Int(random.next(upTo: 8))
                case 4:
                    changed.autoTune.toggle()
                    changed.minRate = Double(random.next(upTo: 20)) / Double(1 + random.next(upTo: 3))
                default: changed.rate = 0
                }
                if let start = changed.rampStartRate, start > changed.rate { changed.rampStartRate = changed.rate }
                if changed.minRate > changed.rate { changed.minRate = changed.rate }
                settings = changed
                steps.append(.settings(changed))
            default:
                steps.append(.action(RoomAction.allCases[Int(random.next(upTo: 4))]))
            }
        }
        return (steps.isEmpty ? settings : settings, steps)
    }

    @Test("randomized scenarios: 8 seeds × 600 steps", arguments: 1...8)
    func randomized(seed: Int) async throws {
        let server = try await TestRedisServer.shared()
        let store = RoomStore(redis: RedisClient(configuration: server.configuration))
        var random = SplitMix64(seed: UInt64(seed))
        var initial = RoomSettings(rate: Double(random.next(upTo: 30)) + 1, capacity: random.next(upTo: 2) == 0 ? nil : 10, claimWindowSeconds: 3, sessionTTLSeconds: 40, checkoutUrl: "/checkout")
        initial.autoTune = seed % 2 == 1
        let (_, steps) = Self.randomScenario(seed: UInt64(seed) &* 7_919, steps: 600)
        let compared = try await Self.replay(steps, initial: initial, store: store)
        #expect(compared == steps.count)
    }

    /// Accepted settings from the whole range the API takes, edges first: the slowest and fastest rates,
    /// sessions far shorter or longer than the claim window, ramps from 0 over a day.
    static func acceptedSettings(_ random: inout SplitMix64) -> RoomSettings {
        func pick<T>(_ values: [T]) -> T { values[Int(random.next(upTo: UInt64(values.count)))] }
        var settings = RoomSettings(rate: acceptedRate(&random), checkoutUrl: "/checkout")
        settings.claimWindowSeconds = pick([1, 2, 5, 60, 3_600, 86_400, 1 + Int(random.next(upTo: 86_400))])
        settings.sessionTTLSeconds = pick([1, 2, 30, 900, 86_400, 1 + Int(random.next(upTo: 86_400))])
        settings.capacity = pick([nil, nil, 0, 1, 5, 100_000_000])
        if random.next(upTo: 2) == 0 {
            settings.rampSeconds = pick([0, 1, 30, 86_400])
            settings.rampStartRate = pick([nil, 0, AdmissionModel.minimumRate, settings.rate / 2, settings.rate])
        }
        return settings.reconciled(given: []).settings
    }

    /// A rate the API accepts: 0, the edges, or anything between (spread over the decades).
    static func acceptedRate(_ random: inout SplitMix64) -> Double {
        switch random.next(upTo: 6) {
        case 0: return 0
        case 1: return AdmissionModel.minimumRate
        case 2: return 1_000_000
        default: return (AdmissionModel.minimumRate * pow(10, Double(random.next(upTo: 9_000)) / 1_000) * 1_000).rounded() / 1_000 + AdmissionModel.minimumRate
        }
    }

    @Test("property: for any accepted settings and any sequence of rate changes, no claim fails and no ticket is admitted twice", arguments: 1...6)
    func anyAcceptedSettings(seed: Int) async throws {
        let server = try await TestRedisServer.shared()
        let store = RoomStore(redis: RedisClient(configuration: server.configuration))
        var random = SplitMix64(seed: UInt64(seed) &* 104_729)
        let initial = Self.acceptedSettings(&random)
        try initial.validate()
        var settings = initial
        var steps: [Step] = []
        var tickets = 0
        for _ in 0..<300 {
            switch random.next(upTo: 100) {
            case 0..<20: steps.append(.advance(Int64(random.next(upTo: 1_500))))
            case 20..<25: steps.append(.advance(Int64(random.next(upTo: UInt64(settings.sessionTTLSeconds) * 2_000))))  // past sessions
            case 25..<35: steps.append(.join(1 + Int(random.next(upTo: 30))))
            case 35..<55: steps.append(.tick)
            case 55..<85:
                // Mostly the same few tickets again (a shopper polling), sometimes a new one.
                if tickets == 0 || random.next(upTo: 4) == 0 { tickets += 1 }
                let ticket = 1 + Int(random.next(upTo: UInt64(tickets)))
                steps.append(.claim(position: Int64(ticket), ticket: "t\(ticket)"))
            default:
                // A rate change as the API makes it: other settings kept, what no longer fits adjusted.
                var changed = settings
                changed.rate = Self.acceptedRate(&random)
                changed = changed.reconciled(given: ["rate"]).settings
                try changed.validate()
                settings = changed
                steps.append(.settings(changed))
            }
        }
        // replay fails on any script error, any divergence from the model, and any ticket with two jtis.
        #expect(try await Self.replay(steps, initial: initial, store: store) == steps.count, "\(initial)")
    }

    @Test("table: a scheduled room with a ramp opens, lapses, claims at the entry gate, releases")
    func scheduledRamp() async throws {
        let server = try await TestRedisServer.shared()
        let store = RoomStore(redis: RedisClient(configuration: server.configuration))
        let start: Int64 = 1_800_000_000_000
        var settings = RoomSettings(rate: 20, capacity: 30, claimWindowSeconds: 2, sessionTTLSeconds: 45, checkoutUrl: "/checkout")
        settings.opensAtMs = start + 1_000
        settings.rampSeconds = 5
        settings.rampStartRate = 2
        var steps: [Step] = [.join(80), .tick, .advance(600), .tick, .advance(600), .tick]  // opens
        for second in 0..<12 {
            steps += [.advance(250), .tick, .claim(position: Int64(second * 3 + 1), ticket: "a\(second)"), .claim(position: Int64(second * 3 + 2), ticket: "b\(second)")]
            steps += [.advance(250), .tick, .claim(position: Int64(second * 3 + 1), ticket: "a\(second)"), .join(3)]
            if second == 6 { steps += [.release(jti: "j1"), .action(.pause), .advance(700), .tick, .action(.resume)] }
        }
        steps += [.advance(3_000), .tick, .action(.close), .join(1), .tick, .action(.open), .tick]
        #expect(try await Self.replay(steps, initial: settings, startMs: start, store: store) == steps.count)
    }
}
#endif
