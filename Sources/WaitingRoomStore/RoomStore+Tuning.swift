import Foundation
import RedisClient
import WaitingRoomCore

/// The rate tuner's storage (``RateController``): checkout's health reports, and the interval one gate
/// takes on Redis's clock to decide, then writes for every gate to apply.
extension RoomStore {
    /// Records checkout's health report for `room`, dated by Redis's clock; false when the room does not exist.
    public func recordHealth(room: String, _ health: CheckoutHealth, clockMs: Int64? = nil) async throws(StoreError) -> Bool {
        let reply = try await runScript(
            RoomScripts.health, keys: [RoomKeys(room: room).state],
            arguments: [
                RedisArgument(health.p95Ms), RedisArgument(String(health.errorRatio)), RedisArgument(health.inFlight.map(String.init) ?? ""),
                Self.clock(clockMs),
            ]
        )
        guard let result = reply.int else { throw .corrupt("health returned \(reply)") }
        return result == 1
    }

    /// One interval to decide: what ``RateController/decide(_:)`` reads, and the fence ``applyTuning(room:_:decision:eventJSON:clockMs:)`` needs.
    public struct TuningInterval: Sendable {
        /// Redis's clock when the interval was taken (the fence).
        public var nowMs: Int64
        public var input: RateController.Input
        /// The room's raw fields (the health URL is in the settings).
        public var settings: RoomSettings { input.settings }
    }

    /// Takes `room`'s tuning interval when it is due: nil when it is not auto-tuned, not open, missing, or
    /// another gate has this interval.
    public func beginTuning(room: String, intervalMs: Int64 = RateController.intervalMs, clockMs: Int64? = nil) async throws(StoreError) -> TuningInterval? {
        let keys = RoomKeys(room: room)
        let reply = try await runScript(
            RoomScripts.tune, keys: [keys.state, keys.events, keys.hookSets],
            arguments: ["begin", RedisArgument(intervalMs), Self.clock(clockMs)]
        )
        let parsed = try ScriptReply(reply, from: "tune")
        switch parsed.outcome {
        case "off", "busy", "missing": return nil
        case "decide": break
        default: throw .corrupt("tune returned \(reply)")
        }
        let texts = parsed.texts
        guard texts.count % 2 == 1, let now = Int64(texts[0]) else { throw .corrupt("tune returned \(reply)") }
        var fields: [String: String] = [:]
        for index in stride(from: 1, to: texts.count - 1, by: 2) { fields[texts[index]] = texts[index + 1] }
        guard let settings = RoomSettings(storedFields: fields) else { throw .corrupt("room \(room) has unreadable settings") }
        func int(_ name: String) -> Int64 { fields[name].flatMap { Int64($0) ?? Double($0).map { Int64($0) } } ?? 0 }
        let input = RateController.Input(
            settings: settings, state: fields["state"].flatMap(RoomState.init(rawValue:)) ?? .open, health: Self.health(fields),
            counters: RateController.Counters(
                consumed: int("consumed"), releases: int("releases"), lapsed: int("lapsed"), claims: int("claims"), consumeMs: int("consumeMs")),
            waiting: max(0, int("tail") - int("head")), memory: fields["tuneMemory"].flatMap(RateController.Memory.init(text:)), nowMs: now
        )
        return TuningInterval(nowMs: now, input: input)
    }

    /// Writes a decision for every gate to apply, with its `room.rate_tuned` event when given. False when
    /// it is stale: ops changed `rate` or `autoTune` meanwhile (their change wins), or another gate took a
    /// later interval.
    @discardableResult
    public func applyTuning(
        room: String, _ interval: TuningInterval, decision: RateController.Decision, eventJSON: String?, clockMs: Int64? = nil
    ) async throws(StoreError) -> Bool {
        let keys = RoomKeys(room: room)
        let reply = try await runScript(
            RoomScripts.tune, keys: [keys.state, keys.events, keys.hookSets],
            arguments: [
                "apply", RedisArgument(interval.nowMs), Self.clock(clockMs), RedisArgument(String(interval.settings.rate)),
                RedisArgument(interval.settings.effectiveRate.map { String($0) } ?? ""), RedisArgument(String(decision.effectiveRate)),
                RedisArgument(decision.reason.rawValue), RedisArgument(decision.memory.text), RedisArgument(eventJSON ?? ""),
            ] + Self.entryConstants
        )
        switch reply.string {
        case "applied": return true
        case "stale": return false
        default:
            if case .error(let message) = reply { throw .wrap(.server(message)) }
            throw .corrupt("tune returned \(reply)")
        }
    }

    /// The last health report in a room hash's fields (nil when none was recorded).
    public static func health(_ fields: [String: String]) -> CheckoutHealth? {
        guard let p95 = fields["healthP95Ms"].flatMap({ Int($0) }), let ratio = fields["healthErrorRatio"].flatMap(Double.init),
            let at = fields["healthAtMs"].flatMap({ Int64($0) })
        else { return nil }
        return CheckoutHealth(p95Ms: p95, errorRatio: ratio, inFlight: fields["healthInFlight"].flatMap { Int($0) }, atMs: at)
    }

    private func runScript(_ script: RedisScript, keys: [String], arguments: [RedisArgument]) async throws(StoreError) -> RedisReply {
        do { return try await redis.run(script, keys: keys.map { RedisArgument($0) }, arguments: arguments) } catch { throw .wrap(error) }
    }
}
