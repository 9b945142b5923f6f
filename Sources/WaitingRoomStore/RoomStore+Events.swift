import RedisClient
import WaitingRoomCore

/// A room's events stream (`XADD … MAXLEN ~ 10000`): what a warehouse reads, and what the gates' hook
/// dispatchers consume through one consumer group, so each event is handled by exactly one gate.
extension RoomStore {
    /// One event as stored: the stream id, its type, when (unix ms) and its data (a JSON object's text).
    public struct StoredEvent: Sendable, Equatable {
        public var id: String
        public var type: String
        public var atMs: Int64
        public var data: String
        /// The hook list the room had when the event happened (its id in ``RoomKeys/hookSets``, read with
        /// ``RoomStore/hookSet(room:id:)``): "" when it had none, nil for an event recorded before gates kept it.
        public var hookSet: String? = nil
        /// How many times it was handed to a dispatcher (1 on first delivery).
        public var deliveries: Int = 1
    }

    /// The consumer group every gate's dispatcher reads through.
    public static let eventGroup = "waitroom"

    /// Appends an event (settings changes, creation, deletion; the tick and state changes append their own
    /// in Lua), bound in the same script to the hooks the room has now.
    public func appendEvent(room: String, type: String, dataJSON: String, clockMs: Int64? = nil) async throws(StoreError) {
        let keys = RoomKeys(room: room)
        do {
            _ = try await redis.run(
                RoomScripts.event, keys: [RedisArgument(keys.state), RedisArgument(keys.events), RedisArgument(keys.hookSets)],
                arguments: [RedisArgument(type), RedisArgument(dataJSON), Self.clock(clockMs)]
            )
        } catch {
            throw .wrap(error)
        }
    }

    /// The hooks of the set an event names (``StoredEvent/hookSet``); nil when it is gone (unused for an hour).
    public func hookSet(room: String, id: String) async throws(StoreError) -> [RoomHook]? {
        guard !id.isEmpty else { return [] }
        let reply: RedisReply
        do { reply = try await redis.execute(["HGET", RedisArgument(RoomKeys(room: room).hookSets), RedisArgument(id)]) } catch { throw .wrap(error) }
        guard let value = reply.string, let bar = value.firstIndex(of: "|") else { return nil }
        return RoomHook.decode(String(value[value.index(after: bar)...]))
    }

    /// New events of each room for `consumer`, creating the group when it is missing (from the start of
    /// the stream: nothing emitted before is lost).
    public func readEvents(rooms: [String], consumer: String, count: Int = 100) async throws(StoreError) -> [String: [StoredEvent]] {
        guard !rooms.isEmpty else { return [:] }
        do {
            let commands: [[RedisArgument]] = rooms.map { room in
                ["XREADGROUP", "GROUP", RedisArgument(Self.eventGroup), RedisArgument(consumer), "COUNT", RedisArgument(count),
                 "STREAMS", RedisArgument(RoomKeys(room: room).events), ">"]
            }
            let replies = try await redis.pipeline(commands)
            var result: [String: [StoredEvent]] = [:]
            var missingGroups: [[RedisArgument]] = []
            for (room, reply) in zip(rooms, replies) {
                if case .error(let message) = reply {
                    if message.hasPrefix("NOGROUP") {
                        missingGroups.append(["XGROUP", "CREATE", RedisArgument(RoomKeys(room: room).events), RedisArgument(Self.eventGroup), "0", "MKSTREAM"])
                    }
                    continue
                }
                // [[stream, [[id, [field, value, ...]], ...]]]
                guard let streams = reply.array, let first = streams.first?.array, first.count == 2, let entries = first[1].array else { continue }
                result[room] = entries.compactMap(Self.event)
            }
            if !missingGroups.isEmpty { _ = try await redis.pipeline(missingGroups) }  // BUSYGROUP from a racing gate is fine
            return result
        } catch {
            throw .wrap(error)
        }
    }

    /// Events of `room` another delivery left unfinished (a failed hook, or a gate that died) whose backoff
    /// has passed, claimed for `consumer`; their `deliveries` counts earlier attempts too.
    public func retryableEvents(room: String, consumer: String, backoffMs: (Int) -> Int64) async throws(StoreError) -> [StoredEvent] {
        let key = RedisArgument(RoomKeys(room: room).events)
        do {
            let pending = try await redis.execute(["XPENDING", key, RedisArgument(Self.eventGroup), "-", "+", "50"])
            var due: [(id: String, deliveries: Int)] = []
            for item in pending.array ?? [] {
                guard let fields = item.array, fields.count == 4, let id = fields[0].string, let idle = fields[2].int, let count = fields[3].int else { continue }
                if idle >= backoffMs(Int(count)) { due.append((id, Int(count))) }
            }
            guard let minimumIdle = due.map({ backoffMs($0.deliveries) }).min() else { return [] }
            // The claim itself requires the idle time: of two gates that both saw the event due, the second
            // claims nothing (the first claim reset the idle time).
            let claimed = try await redis.execute(
                ["XCLAIM", key, RedisArgument(Self.eventGroup), RedisArgument(consumer), RedisArgument(minimumIdle)] + due.map { RedisArgument($0.id) }
            )
            let counts = Dictionary(uniqueKeysWithValues: due.map { ($0.id, $0.deliveries + 1) })
            return (claimed.array ?? []).compactMap(Self.event).map { event in
                var event = event
                event.deliveries = counts[event.id] ?? 1
                return event
            }
        } catch {
            throw .wrap(error)
        }
    }

    /// Done with events: acknowledged, never handed out again.
    public func acknowledgeEvents(room: String, ids: [String]) async throws(StoreError) {
        guard !ids.isEmpty else { return }
        do {
            _ = try await redis.execute(["XACK", RedisArgument(RoomKeys(room: room).events), RedisArgument(Self.eventGroup)] + ids.map { RedisArgument($0) })
        } catch {
            throw .wrap(error)
        }
    }

    /// Whether hook `index` already accepted event `id`, and marking that it did (kept an hour).
    public func hookDelivered(room: String, eventID: String, index: Int) async throws(StoreError) -> Bool {
        do {
            return try await redis.execute(["EXISTS", RedisArgument(RoomKeys(room: room).hookDelivered(eventID: eventID, index: index))]).int == 1
        } catch {
            throw .wrap(error)
        }
    }

    /// Records one delivery attempt (JSON text) in the room's recent list and, when it succeeded, its mark.
    public func recordHookDelivery(room: String, eventID: String, index: Int, succeeded: Bool, recordJSON: String) async throws(StoreError) {
        let keys = RoomKeys(room: room)
        var commands: [[RedisArgument]] = [
            ["LPUSH", RedisArgument(keys.hookDeliveries), RedisArgument(recordJSON)],
            ["LTRIM", RedisArgument(keys.hookDeliveries), "0", "49"],
        ]
        if succeeded { commands.append(["SET", RedisArgument(keys.hookDelivered(eventID: eventID, index: index)), "1", "EX", "3600"]) }
        do { _ = try await redis.pipeline(commands) } catch { throw .wrap(error) }
    }

    /// The latest hook deliveries (JSON texts, newest first).
    public func hookDeliveries(room: String, count: Int = 20) async throws(StoreError) -> [String] {
        do {
            return (try await redis.execute(["LRANGE", RedisArgument(RoomKeys(room: room).hookDeliveries), "0", RedisArgument(count - 1)]).array ?? [])
                .compactMap(\.string)
        } catch {
            throw .wrap(error)
        }
    }

    /// The room's events of `type` between two unix-ms times, oldest first (at most `count` of all types read).
    public func events(room: String, type: String, fromMs: Int64, toMs: Int64, count: Int = 10_000) async throws(StoreError) -> [StoredEvent] {
        do {
            let reply = try await redis.execute([
                "XRANGE", RedisArgument(RoomKeys(room: room).events), RedisArgument(String(max(0, fromMs))), RedisArgument(String(max(0, toMs))),
                "COUNT", RedisArgument(count),
            ])
            return (reply.array ?? []).compactMap(Self.event).filter { $0.type == type }
        } catch {
            throw .wrap(error)
        }
    }

    private static func event(_ entry: RedisReply) -> StoredEvent? {
        guard let pair = entry.array, pair.count == 2, let id = pair[0].string, let fields = pair[1].array else { return nil }
        var values: [String: String] = [:]
        var index = 0
        while index + 1 < fields.count {
            if let key = fields[index].string, let value = fields[index + 1].string { values[key] = value }
            index += 2
        }
        guard let type = values["type"], let at = values["at"].flatMap({ Int64($0) }) else { return nil }
        return StoredEvent(id: id, type: type, atMs: at, data: values["data"] ?? "{}", hookSet: values["hooks"])
    }
}
