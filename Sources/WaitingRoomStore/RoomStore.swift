import Foundation
import RedisClient
import WaitingRoomCore
import WaitingRoomTokens

/// The room state in Redis: every read and write of a room goes through here.
public struct RoomStore: Sendable {
    public let redis: RedisClient

    public init(redis: RedisClient) {
        self.redis = redis
    }

    /// Loads every script (start-up and readiness): after this, EVALSHA needs no extra round trip.
    public func loadScripts() async throws(StoreError) {
        for script in [RoomScripts.tick, RoomScripts.join, RoomScripts.claim, RoomScripts.release, RoomScripts.upsert, RoomScripts.setState] {
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

    public enum WriteResult: Sendable, Equatable { case created, replaced, untouched }

    /// Writes a room's settings. A new room starts `scheduled` when `opensAt` is in the future, else `open`.
    @discardableResult
    public func write(room: String, settings: RoomSettings, mode: WriteMode, now: Date = Date()) async throws(StoreError) -> WriteResult {
        let keys = RoomKeys(room: room)
        let initial: RoomState = (settings.opensAt.map { $0 > now } ?? false) ? .scheduled : .open
        var arguments: [RedisArgument] = [RedisArgument(room), RedisArgument(mode.rawValue), RedisArgument(Self.newEpoch()), RedisArgument(initial.rawValue)]
        for (field, value) in settings.redisFields { arguments += [RedisArgument(field), RedisArgument(value)] }
        let reply = try await run(RoomScripts.upsert, keys: [keys.state, RoomKeys.registry], arguments: arguments)
        switch reply.int {
        case 1: return .created
        case 2: return .replaced
        default: return .untouched
        }
    }

    /// Removes a room and its queue. Tickets for it become foreign (a new room of the same name has a new epoch).
    @discardableResult
    public func delete(room: String) async throws(StoreError) -> Bool {
        let keys = RoomKeys(room: room)
        do {
            let replies = try await redis.pipeline([
                ["DEL", RedisArgument(keys.state), RedisArgument(keys.active), RedisArgument(keys.offers), RedisArgument(keys.offerClaims), RedisArgument(keys.arrivals)],
                ["SREM", RedisArgument(RoomKeys.registry), RedisArgument(room)],
            ])
            return (replies[0].int ?? 0) > 0
        } catch {
            throw .wrap(error)
        }
    }

    public enum StateAction: String, Sendable, CaseIterable { case pause, resume, close, open }

    public enum StateChange: Sendable, Equatable {
        case changed(RoomState)
        case conflict(current: RoomState)
        case missing
    }

    public func change(room: String, _ action: StateAction) async throws(StoreError) -> StateChange {
        let reply = try await run(RoomScripts.setState, keys: [RoomKeys(room: room).state], arguments: [RedisArgument(action.rawValue)])
        guard let text = reply.string else { throw .corrupt("setState returned \(reply)") }
        if text == "missing" { return .missing }
        if text.hasPrefix("conflict:"), let state = RoomState(rawValue: String(text.dropFirst("conflict:".count))) {
            return .conflict(current: state)
        }
        guard let state = RoomState(rawValue: text) else { throw .corrupt("setState returned \(text)") }
        return .changed(state)
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
    public func tick(rooms: [String]) async throws(StoreError) -> [String: RoomSnapshot] {
        let calls = rooms.map { room -> (keys: [RedisArgument], arguments: [RedisArgument]) in
            let keys = RoomKeys(room: room)
            return (
                [RedisArgument(keys.state), RedisArgument(keys.active), RedisArgument(keys.offers), RedisArgument(keys.offerClaims), RedisArgument(keys.arrivals)],
                [RedisArgument(Self.newLotteryKey())]
            )
        }
        let replies: [RedisReply]
        do { replies = try await redis.run(RoomScripts.tick, calls: calls) } catch { throw .wrap(error) }
        var snapshots: [String: RoomSnapshot] = [:]
        for (room, reply) in zip(rooms, replies) {
            if case .error(let message) = reply {
                throw RedisError.server(message).isRetryable ? .unavailable(.server(message)) : .corrupt("tick \(room): \(message)")
            }
            guard reply.array != nil, let fields = try? RedisClient.fieldMap(reply) else { continue }
            guard let snapshot = RoomSnapshot(name: room, fields: fields) else { throw .corrupt("room \(room) has unreadable fields") }
            snapshots[room] = snapshot
        }
        return snapshots
    }

    public enum JoinResult: Sendable, Equatable {
        /// `count` consecutive places starting at `firstSeq`.
        case placed(firstSeq: Int64, state: RoomState, epoch: String)
        case missing
        case closed
    }

    /// Hands out `count` consecutive places with one command (group commit).
    public func join(room: String, count: Int) async throws(StoreError) -> JoinResult {
        let keys = RoomKeys(room: room)
        let reply = try await run(RoomScripts.join, keys: [keys.state, keys.arrivals], arguments: [RedisArgument(count)])
        guard let parts = reply.array, let first = parts.first?.int else { throw .corrupt("join returned \(reply)") }
        if first == 0 { return parts.count > 1 && parts[1].string == "closed" ? .closed : .missing }
        guard parts.count == 3, let state = parts[1].string.flatMap(RoomState.init(rawValue:)), let epoch = parts[2].string else {
            throw .corrupt("join returned \(reply)")
        }
        return .placed(firstSeq: first, state: state, epoch: epoch)
    }

    public struct Admission: Sendable, Equatable {
        public var jti: String
        public var issuedAtMs: Int64
        public var expiresAtMs: Int64
    }

    public enum ClaimResult: Sendable, Equatable {
        case admitted(Admission)
        case waiting
        /// The offer lapsed (the shopper did not come back within the claim window).
        case expired
        case closed
        /// The ticket belongs to an earlier incarnation of this room.
        case foreign
        case missing
    }

    /// Claims the admission offered to `ticketID` (idempotent: a second claim returns the first admission).
    public func claim(room: String, ticketID: String, epoch: String, effectivePosition: Int64) async throws(StoreError) -> ClaimResult {
        let keys = RoomKeys(room: room)
        let jti = RandomID.make()
        let reply = try await run(
            RoomScripts.claim,
            keys: [keys.state, keys.active, keys.offers, keys.offerClaims, keys.admission(ticketID: ticketID)].map { RedisArgument($0) },
            arguments: [RedisArgument(effectivePosition), RedisArgument(jti), RedisArgument(epoch)]
        )
        guard let parts = reply.array, let outcome = parts.first?.string else { throw .corrupt("claim returned \(reply)") }
        switch outcome {
        case "admitted":
            guard parts.count == 2, let value = parts[1].string else { throw .corrupt("claim returned \(reply)") }
            let fields = value.split(separator: "|")
            guard fields.count == 3, let iat = Int64(fields[1]), let exp = Int64(fields[2]) else { throw .corrupt("admission \(value)") }
            return .admitted(Admission(jti: String(fields[0]), issuedAtMs: iat, expiresAtMs: exp))
        case "waiting": return .waiting
        case "expired": return .expired
        case "closed": return .closed
        case "foreign": return .foreign
        default: return .missing
        }
    }

    /// Frees the checkout slot of `jti`; true the first time.
    @discardableResult
    public func release(room: String, jti: String) async throws(StoreError) -> Bool {
        let keys = RoomKeys(room: room)
        return try await run(RoomScripts.release, keys: [keys.state, keys.active], arguments: [RedisArgument(jti)]).int == 1
    }

    /// Marks `jti` used until it expires; true the first time only (single use).
    public func consume(room: String, jti: String, expiresAtMs: Int64) async throws(StoreError) -> Bool {
        do {
            let reply = try await redis.execute([
                "SET", RedisArgument(RoomKeys(room: room).consumed(jti: jti)), "1", "NX", "PXAT", RedisArgument(max(expiresAtMs, 1)),
            ])
            return !reply.isNull
        } catch {
            throw .wrap(error)
        }
    }

    /// The settings as stored (for PATCH, which merges into them).
    public func settings(room: String) async throws(StoreError) -> RoomSettings? {
        do {
            let fields = try await redis.hgetall(RoomKeys(room: room).state)
            return fields.isEmpty ? nil : RoomSettings(redisFields: fields)
        } catch {
            throw .wrap(error)
        }
    }

    private func run(_ script: RedisScript, keys: [String], arguments: [RedisArgument]) async throws(StoreError) -> RedisReply {
        try await run(script, keys: keys.map { RedisArgument($0) }, arguments: arguments)
    }

    private func run(_ script: RedisScript, keys: [RedisArgument], arguments: [RedisArgument]) async throws(StoreError) -> RedisReply {
        do { return try await redis.run(script, keys: keys, arguments: arguments) } catch { throw .wrap(error) }
    }

    static func newEpoch() -> String { RandomID.make(bytes: 6) }

    static func newLotteryKey() -> String {
        var generator = SystemRandomNumberGenerator()
        return String(format: "%016llx%016llx", generator.next() as UInt64, generator.next() as UInt64)
    }
}
