import RedisClient

/// Gate heartbeats: each gate writes one line a second into one hash, so ops see every gate's health.
extension RoomStore {
    /// Hash: gate id → its latest heartbeat (JSON). Not tagged: it is one small global key.
    public static let gatesKey = "wr:gates"

    public func writeHeartbeat(gate: String, json: String) async throws(StoreError) {
        do { _ = try await redis.execute(["HSET", RedisArgument(Self.gatesKey), RedisArgument(gate), RedisArgument(json)]) } catch { throw .wrap(error) }
    }

    /// Every gate's latest heartbeat (JSON text by gate id).
    public func heartbeats() async throws(StoreError) -> [String: String] {
        do { return try await redis.hgetall(Self.gatesKey) } catch { throw .wrap(error) }
    }

    public func forgetGates(_ gates: [String]) async throws(StoreError) {
        guard !gates.isEmpty else { return }
        do { _ = try await redis.execute(["HDEL", RedisArgument(Self.gatesKey)] + gates.map { RedisArgument($0) }) } catch { throw .wrap(error) }
    }
}

extension RoomStore {
    /// Counts one join of `client` in the current minute window across all gates; the count so far.
    public func countJoin(room: String, client: String, minute: Int64) async throws(StoreError) -> Int64 {
        let key = RedisArgument(RoomKeys(room: room).joinBudget(client: client, minute: minute))
        let replies: [RedisReply]
        do { replies = try await redis.pipeline([["INCR", key], ["EXPIRE", key, "120"]]) } catch { throw .wrap(error) }
        guard let count = replies.first?.int else { throw .corrupt("INCR returned \(replies)") }
        return count
    }
}
