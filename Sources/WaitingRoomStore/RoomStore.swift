import Foundation
import RedisClient
import WaitingRoomCore
import WaitingRoomTokens

/// The room state in Redis: every read and write of a room goes through here.
public struct RoomStore: Sendable {
    public let redis: RedisClient
    /// When set, a join batch, a claim, a consume or a release is answered only once `WAIT` saw it reach this
    /// many replicas (`WAITROOM_REDIS_MIN_REPLICAS`): a failover can then not hand the same place out twice,
    /// nor make a consumed token usable again.
    public let replicaWait: ReplicaWait?

    public init(redis: RedisClient, replicaWait: ReplicaWait? = nil) {
        self.redis = redis
        self.replicaWait = replicaWait.flatMap { $0.replicas > 0 ? $0 : nil }
    }

    /// Loads every script (start-up and readiness): after this, EVALSHA needs no extra round trip.
    public func loadScripts() async throws(StoreError) {
        for script in RoomScripts.all {
            do { try await redis.load(script) } catch { throw .wrap(error) }
        }
    }

    public enum WriteMode: String, Sendable {
        /// Create, or replace the settings of an existing room (its queue is kept).
        case createOrReplace = "create"
        /// Create only if absent (rooms from `Config/` at start-up).
        case seed
        /// Change an existing room only.
        case update
    }

    public enum WriteResult: String, Sendable, Equatable { case created, replaced, untouched }

    /// Writes a room's settings. A new room starts `scheduled` when `opensAt` is in the future, else `open`.
    ///
    /// - Parameter clockMs: replaces Redis's clock (tests replaying a scenario); nil in production.
    @discardableResult
    public func write(room: String, settings: RoomSettings, mode: WriteMode, now: Date = Date(), clockMs: Int64? = nil) async throws(StoreError) -> WriteResult {
        let keys = RoomKeys(room: room)
        let initial: RoomState = (settings.opensAt.map { $0 > now } ?? false) ? .scheduled : .open
        var arguments: [RedisArgument] = [
            RedisArgument(room), RedisArgument(mode.rawValue), RedisArgument(Self.newEpoch()), RedisArgument(initial.rawValue), Self.clock(clockMs),
        ] + Self.entryConstants
        // A fresh key on every write; the script keeps it only when this write gives a scheduled room its
        // first opening time.
        let lotteryKey = LotterySeal.newKey()
        arguments += [RedisArgument(lotteryKey), RedisArgument(LotterySeal.commitment(ofKey: lotteryKey))]
        for (field, value) in settings.storedFields { arguments += [RedisArgument(field), RedisArgument(value)] }
        // Registered before it exists, so a listing never misses a live room (a name without a room is skipped).
        if mode != .update {
            do { try await redis.execute(["SADD", RedisArgument(RoomKeys.registry), RedisArgument(room)]) } catch { throw .wrap(error) }
        }
        let reply = try await run(RoomScripts.upsert, keys: [keys.state, keys.lotterySecret], arguments: arguments)
        guard let result = reply.string.flatMap(WriteResult.init(rawValue:)) else { throw .corrupt("upsert returned \(reply)") }
        return result
    }

    /// Removes a room and its queue. Tickets for it become foreign (a new room of the same name has a new epoch).
    @discardableResult
    public func delete(room: String) async throws(StoreError) -> Bool {
        let keys = RoomKeys(room: room)
        do {
            // The room goes first, its name last: a listing never misses a room that still exists. The events
            // stream stays (a warehouse may still read it; it is capped).
            let removed = try await redis.execute([
                "DEL", RedisArgument(keys.state), RedisArgument(keys.active), RedisArgument(keys.offers), RedisArgument(keys.offerClaims),
                RedisArgument(keys.arrivals), RedisArgument(keys.seriesSeconds), RedisArgument(keys.seriesMinutes), RedisArgument(keys.hookDeliveries),
                RedisArgument(keys.lotterySecret),
            ])
            try await redis.execute(["SREM", RedisArgument(RoomKeys.registry), RedisArgument(room)])
            return (removed.int ?? 0) > 0
        } catch {
            throw .wrap(error)
        }
    }

    public enum StateChange: Sendable, Equatable {
        case changed(RoomState)
        case conflict(current: RoomState)
        case missing
    }

    /// Pauses, resumes, closes or opens a room (``AdmissionModel`` change rules).
    /// - Parameter by: who asks (an admin key's id); given, the change is recorded in the room's events
    ///   stream in the same script, bound to the hooks the room has at that moment.
    public func change(room: String, _ action: RoomAction, by: String? = nil, clockMs: Int64? = nil) async throws(StoreError) -> StateChange {
        let keys = RoomKeys(room: room)
        let reply = try await run(
            RoomScripts.setState,
            keys: by == nil ? [keys.state] : [keys.state, keys.events, keys.hookSets],
            arguments: [RedisArgument(action.rawValue), Self.clock(clockMs)] + (by.map { [RedisArgument($0)] } ?? [])
        )
        let parsed = try ScriptReply(reply, from: "setState")
        switch (parsed.outcome, parsed.texts.count) {
        case ("missing", 0): return .missing
        case ("changed", 1): if let state = RoomState(rawValue: parsed.texts[0]) { return .changed(state) }
        case ("conflict", 1): if let state = RoomState(rawValue: parsed.texts[0]) { return .conflict(current: state) }
        default: break
        }
        throw .corrupt("setState returned \(reply)")
    }

    public func roomNames() async throws(StoreError) -> [String] {
        do {
            let reply = try await redis.execute(["SMEMBERS", RedisArgument(RoomKeys.registry)])
            return (reply.array ?? []).compactMap(\.string).filter { RoomName.isValid($0) }.sorted()
        } catch {
            throw .wrap(error)
        }
    }

    /// Ticks every named room in one pipelined round trip and returns their snapshots (missing rooms left out).
    /// Throws when any room's tick failed.
    public func tick(rooms: [String], clockMs: Int64? = nil) async throws(StoreError) -> [String: RoomSnapshot] {
        let ticked = try await tickEach(rooms: rooms, clockMs: clockMs)
        if let failure = ticked.failed.values.first { throw failure }
        return ticked.snapshots
    }

    /// Like ``tick(rooms:clockMs:)``, but each room has its own outcome: on a Cluster a node that cannot be
    /// reached (or answers an error) fails only its own rooms, and the others' snapshots come back. Throws
    /// only when Redis could not be asked at all.
    public func tickEach(rooms: [String], clockMs: Int64? = nil) async throws(StoreError) -> (snapshots: [String: RoomSnapshot], failed: [String: StoreError]) {
        let calls = rooms.map { room -> (keys: [RedisArgument], arguments: [RedisArgument]) in
            let keys = RoomKeys(room: room)
            return (
                [
                    RedisArgument(keys.state), RedisArgument(keys.active), RedisArgument(keys.offers), RedisArgument(keys.offerClaims),
                    RedisArgument(keys.arrivals), RedisArgument(keys.seriesSeconds), RedisArgument(keys.seriesMinutes),
                    RedisArgument(keys.events), RedisArgument(keys.hookSets), RedisArgument(keys.lotterySecret), RedisArgument(keys.history),
                ],
                [RedisArgument(Self.newLotteryKey()), Self.clock(clockMs)]
            )
        }
        let results: [Result<RedisReply, RedisError>]
        do { results = try await redis.runEach(RoomScripts.tick, calls: calls, wait: nil) } catch { throw .wrap(error) }
        var snapshots: [String: RoomSnapshot] = [:]
        var failed: [String: StoreError] = [:]
        for (room, result) in zip(rooms, results) {
            switch result {
            case .failure(let error): failed[room] = .wrap(error)
            case .success(.error(let message)):
                failed[room] = RedisError.server(message).isRetryable ? .unavailable(.server(message)) : .corrupt("tick \(room): \(message)")
            case .success(let reply) where reply.isNull: continue  // the room is gone
            case .success(let reply):
                guard let fields = try? RedisClient.fieldMap(reply), let snapshot = RoomSnapshot(name: room, fields: fields) else {
                    failed[room] = .corrupt("tick \(room) returned \(reply)")
                    continue
                }
                snapshots[room] = snapshot
            }
        }
        return (snapshots, failed)
    }

    public enum JoinResult: Sendable, Equatable {
        /// `count` consecutive places starting at `firstSeq`.
        case placed(firstSeq: Int64, state: RoomState, epoch: String)
        case missing
        case closed
    }

    /// Hands out `count` consecutive places with one command (group commit).
    public func join(room: String, count: Int) async throws(StoreError) -> JoinResult {
        try await join([(room, count)])[0].get()
    }

    /// One group commit: `count` consecutive places in each room, every room's script in one round trip,
    /// followed by one `WAIT` for the whole batch when ``replicaWait`` is set (on a Cluster, one per node).
    /// Each room has its own result: one room's error (a slot in migration answering `TRYAGAIN`, a node whose
    /// replica is cut off) must not fail rooms whose places were written and replicated, or their shoppers
    /// would be told 503 for places that exist (phantom places).
    public func join(_ batches: [(room: String, count: Int)]) async throws(StoreError) -> [Result<JoinResult, StoreError>] {
        let calls = batches.map { batch -> (keys: [RedisArgument], arguments: [RedisArgument]) in
            let keys = RoomKeys(room: batch.room)
            return ([RedisArgument(keys.state), RedisArgument(keys.arrivals)], [RedisArgument(batch.count)])
        }
        let results: [Result<RedisReply, RedisError>]
        do { results = try await redis.runEach(RoomScripts.join, calls: calls, wait: replicaWait) } catch { throw .wrap(error) }
        return results.map { result -> Result<JoinResult, StoreError> in
            switch result {
            case .success(let reply):
                do throws(StoreError) { return .success(try Self.joinResult(reply, from: "join")) } catch { return .failure(error) }
            case .failure(let error):
                return .failure(.wrap(error))
            }
        }
    }

    /// The place of a join-pass holder (`ticketID` is derived from the customer): taken at the back on
    /// the first join, the same one on every later join. One Redis key per holder, kept as long as tickets live.
    /// Confirmed by `WAIT` like a group commit when ``replicaWait`` is set.
    public func join(room: String, passHolder ticketID: String) async throws(StoreError) -> JoinResult {
        let keys = RoomKeys(room: room)
        let call = (
            keys: [RedisArgument(keys.state), RedisArgument(keys.arrivals), RedisArgument(keys.pass(ticketID: ticketID))],
            arguments: [RedisArgument(Self.ticketLifetimeMs)]
        )
        return try Self.joinResult(try await runReplicated(RoomScripts.joinPass, keys: call.keys, arguments: call.arguments), from: "joinPass")
    }

    private static func joinResult(_ reply: RedisReply, from script: String) throws(StoreError) -> JoinResult {
        let parsed = try ScriptReply(reply, from: script)
        switch (parsed.outcome, parsed.texts.count) {
        case ("missing", 0): return .missing
        case ("closed", 0): return .closed
        case ("placed", 3):
            if let first = Int64(parsed.texts[0]), first > 0, let state = RoomState(rawValue: parsed.texts[1]) {
                return .placed(firstSeq: first, state: state, epoch: parsed.texts[2])
            }
        default: break
        }
        throw .corrupt("\(script) returned \(reply)")
    }

    public enum ClaimResult: Sendable, Equatable {
        /// Admitted (now or, when entries run ahead of the rate, at `admission.entersAtMs`); `redisNowMs` is
        /// Redis's clock when the claim ran, to compare with `entersAtMs`.
        case admitted(Admission, redisNowMs: Int64)
        /// The admission was released or consumed: it is over and its token is not handed out again.
        case done(AdmissionEnd)
        case waiting
        /// The offer lapsed (the shopper did not come back within the claim window).
        case expired
        case closed
        /// The ticket belongs to an earlier incarnation of this room.
        case foreign
        case missing
    }

    /// The entry schedule's constants from ``AdmissionModel``, as the claim and upsert scripts take them.
    static let entryConstants = [AdmissionModel.entryBurstMs, AdmissionModel.minimumRate, AdmissionModel.entryHorizonMs].map { RedisArgument(String($0)) }

    /// Claims the admission offered to `ticketID` (idempotent: a second claim returns the first admission, and
    /// once its session is over ``ClaimResult/done(_:)`` with ``AdmissionEnd/expired``: one ticket, one admission).
    public func claim(
        room: String, ticketID: String, epoch: String, effectivePosition: Int64, jti: String = RandomID.make(), waitedMs: Int64? = nil,
        clockMs: Int64? = nil
    ) async throws(StoreError) -> ClaimResult {
        let keys = RoomKeys(room: room)
        let call = (
            keys: [keys.state, keys.active, keys.offers, keys.offerClaims, keys.admission(ticketID: ticketID)].map { RedisArgument($0) },
            arguments: [
                RedisArgument(effectivePosition), RedisArgument(jti), RedisArgument(epoch), Self.clock(clockMs),
                RedisArgument(waitedMs.map { String(max(0, $0)) } ?? ""), RedisArgument(Self.ticketLifetimeMs),
            ] + Self.entryConstants
        )
        // The claim's WAIT covers the recorded admission; a retry after a short WAIT finds it and waits again.
        let reply = try await runReplicated(RoomScripts.claim, keys: call.keys, arguments: call.arguments)
        let parsed = try ScriptReply(reply, from: "claim")
        switch (parsed.outcome, parsed.texts.count) {
        case ("admitted", 2):
            let fields = parsed.texts[0].split(separator: "|")
            if fields.count == 3, let enters = Int64(fields[1]), let expires = Int64(fields[2]), let now = Int64(parsed.texts[1]) {
                return .admitted(Admission(jti: String(fields[0]), entersAtMs: enters, expiresAtMs: expires), redisNowMs: now)
            }
        case ("done", 1):
            if let end = AdmissionEnd(rawValue: parsed.texts[0]) { return .done(end) }
        case ("waiting", 0): return .waiting
        case ("expired", 0): return .expired
        case ("closed", 0): return .closed
        case ("foreign", 0): return .foreign
        case ("missing", 0): return .missing
        default: break
        }
        throw .corrupt("claim returned \(reply)")
    }

    /// How long per-shopper records (an ended admission, a pass holder's place) are kept: as long as a
    /// ticket lives, so status says "done" rather than "expired" and a customer keeps their place.
    public static let ticketLifetimeMs: Int64 = TicketRules().maximumAgeMs

    /// Frees the checkout slot of `jti` and marks the admission of `ticketID` ended; true the first time.
    /// Confirmed by `WAIT` when ``replicaWait`` is set (a retry after a short `WAIT` answers false and waits again).
    @discardableResult
    public func release(room: String, jti: String, ticketID: String) async throws(StoreError) -> Bool {
        let keys = RoomKeys(room: room)
        let reply = try await runReplicated(
            RoomScripts.release, keys: [keys.state, keys.active, keys.admission(ticketID: ticketID)].map { RedisArgument($0) },
            arguments: [RedisArgument(jti), RedisArgument(Self.ticketLifetimeMs)]
        )
        switch reply.int {
        case 1: return true
        case 0: return false
        default: throw .corrupt("release returned \(reply)")
        }
    }

    public enum ConsumeResult: Sendable, Equatable {
        /// The first use: the order may go ahead.
        case consumed
        /// Consumed before with the same idempotency key: the caller's own consume, asked again.
        case consumedBefore
        /// Used before (single use), with another idempotency key or none.
        case alreadyUsed
        /// The checkout was released first: the admission is over.
        case released
    }

    /// Marks `jti` used until it expires (single use) and the admission of `ticketID` ended. Confirmed by
    /// `WAIT` when ``replicaWait`` is set, so a failover cannot make a consumed token usable again. A consume
    /// whose `WAIT` fell short (503) did run on the primary: its retry answers ``ConsumeResult/alreadyUsed``.
    /// - Parameter idempotencyKey: stored with the single-use marker; a consume with the same key again answers
    ///   ``ConsumeResult/consumedBefore``, with another key or none ``ConsumeResult/alreadyUsed``.
    public func consume(room: String, jti: String, ticketID: String, expiresAtMs: Int64, idempotencyKey: String? = nil) async throws(StoreError) -> ConsumeResult {
        let keys = RoomKeys(room: room)
        let reply = try await runReplicated(
            RoomScripts.consume, keys: [keys.consumed(jti: jti), keys.admission(ticketID: ticketID), keys.state].map { RedisArgument($0) },
            arguments: [RedisArgument(jti), RedisArgument(max(expiresAtMs, 1)), RedisArgument(Self.ticketLifetimeMs), RedisArgument(idempotencyKey ?? "")]
        )
        let parsed = try ScriptReply(reply, from: "consume")
        switch parsed.outcome {
        case "consumed": return .consumed
        case "again": return .consumedBefore
        case "used": return .alreadyUsed
        case "released": return .released
        default: throw .corrupt("consume returned \(reply)")
        }
    }

    /// Whether the admission `jti` of `ticketID` has ended (released or consumed); nil while it lasts.
    public func admissionEnd(room: String, jti: String, ticketID: String) async throws(StoreError) -> AdmissionEnd? {
        let keys = RoomKeys(room: room)
        let reply: RedisReply
        do {
            reply = try await redis.execute(["MGET", RedisArgument(keys.admission(ticketID: ticketID)), RedisArgument(keys.consumed(jti: jti))])
        } catch {
            throw .wrap(error)
        }
        guard let values = reply.array, values.count == 2 else { throw .corrupt("MGET returned \(reply)") }
        if !values[1].isNull { return .consumed }
        guard let record = values[0].string, record.hasPrefix(jti + "|") else { return nil }
        let fields = record.split(separator: "|")
        return fields.count == 4 ? AdmissionEnd(rawValue: String(fields[3])) : nil
    }

    public enum SeriesResolution: Sendable {
        case seconds, minutes
    }

    /// A room's samples in `[from, to)` (unix seconds) and the last one before `from` (the baseline counts
    /// are measured from; nil when there is none: the room's start).
    public func series(room: String, _ resolution: SeriesResolution, from: Int64, to: Int64) async throws(StoreError) -> (baseline: SeriesSample?, samples: [SeriesSample]) {
        let keys = RoomKeys(room: room)
        let key = RedisArgument(resolution == .seconds ? keys.seriesSeconds : keys.seriesMinutes)
        let replies: [RedisReply]
        do {
            replies = try await redis.pipeline([
                ["ZREVRANGEBYSCORE", key, RedisArgument("(\(from)"), "-inf", "LIMIT", "0", "1"],
                ["ZRANGEBYSCORE", key, RedisArgument(from), RedisArgument("(\(to)")],
            ])
        } catch {
            throw .wrap(error)
        }
        let lines = replies.map { ($0.array ?? []).compactMap(\.string) }
        return (lines[0].first.flatMap(SeriesSample.init(line:)), lines[1].compactMap(SeriesSample.init(line:)))
    }

    /// The time of a room's first sample at `resolution` (nil when there is none).
    public func firstSampleTime(room: String, _ resolution: SeriesResolution) async throws(StoreError) -> Int64? {
        let keys = RoomKeys(room: room)
        let key = RedisArgument(resolution == .seconds ? keys.seriesSeconds : keys.seriesMinutes)
        do {
            let reply = try await redis.execute(["ZRANGE", key, "0", "0", "WITHSCORES"])
            return (reply.array?.last?.string).flatMap { Double($0) }.map { Int64($0) }
        } catch {
            throw .wrap(error)
        }
    }

    /// The last sample before `to` and the last before `from` (the ends a total needs), without the rest.
    public func seriesEnds(room: String, _ resolution: SeriesResolution, from: Int64, to: Int64) async throws(StoreError) -> (baseline: SeriesSample?, last: SeriesSample?) {
        let keys = RoomKeys(room: room)
        let key = RedisArgument(resolution == .seconds ? keys.seriesSeconds : keys.seriesMinutes)
        do {
            let replies = try await redis.pipeline([
                ["ZREVRANGEBYSCORE", key, RedisArgument("(\(from)"), "-inf", "LIMIT", "0", "1"],
                ["ZREVRANGEBYSCORE", key, RedisArgument("(\(to)"), RedisArgument(from), "LIMIT", "0", "1"],
            ])
            let samples = replies.map { ($0.array?.first?.string).flatMap(SeriesSample.init(line:)) }
            return (samples[0], samples[1])
        } catch {
            throw .wrap(error)
        }
    }

    /// The settings as stored (for PATCH, which merges into them).
    public func settings(room: String) async throws(StoreError) -> RoomSettings? {
        let fields: [String: String]
        do { fields = try await redis.hgetall(RoomKeys(room: room).state) } catch { throw .wrap(error) }
        if fields.isEmpty { return nil }
        guard let settings = RoomSettings(storedFields: fields) else { throw .corrupt("room \(room) has unreadable settings") }
        return settings
    }

    private func run(_ script: RedisScript, keys: [String], arguments: [RedisArgument]) async throws(StoreError) -> RedisReply {
        try await run(script, keys: keys.map { RedisArgument($0) }, arguments: arguments)
    }

    private func run(_ script: RedisScript, keys: [RedisArgument], arguments: [RedisArgument]) async throws(StoreError) -> RedisReply {
        do { return try await redis.run(script, keys: keys, arguments: arguments) } catch { throw .wrap(error) }
    }

    /// One script call followed by ``replicaWait``'s `WAIT` in the same write: its reply once enough replicas
    /// hold it, else ``StoreError/unavailable(_:)`` with ``RedisError/notReplicated(acknowledged:required:)``.
    private func runReplicated(_ script: RedisScript, keys: [RedisArgument], arguments: [RedisArgument]) async throws(StoreError) -> RedisReply {
        let reply: RedisReply
        do { reply = try await redis.run(script, calls: [(keys, arguments)], wait: replicaWait)[0] } catch { throw .wrap(error) }
        if case .error(let message) = reply { throw .wrap(.server(message)) }  // LOADING, READONLY…: unavailable
        return reply
    }

    static func clock(_ ms: Int64?) -> RedisArgument { RedisArgument(ms.map(String.init) ?? "") }

    static func newEpoch() -> String { RandomID.make(bytes: 6) }

    /// The key of a room that opens without a sealed draw (created before draws were sealed): drawn at
    /// opening, as before, with no commitment to check it against.
    static func newLotteryKey() -> String { LotterySeal.newKey() }
}
