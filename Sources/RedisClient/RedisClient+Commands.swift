/// Typed helpers for the commands the product uses; each is one call to ``RedisClient/send(_:)``.
extension RedisClient {
    public func ping() async throws(RedisError) -> String {
        try await expectString(execute(["PING"]), "PING")
    }

    public func get(_ key: String) async throws(RedisError) -> [UInt8]? {
        let reply = try await execute(["GET", RedisArgument(key)])
        switch reply {
        case .bulk(let bytes): return bytes
        case .null: return nil
        default: throw .unexpectedReply("GET returned \(reply)")
        }
    }

    /// `SET key value [NX] [PX ms]`; returns false when NX prevented the write.
    @discardableResult
    public func set(_ key: String, _ value: RedisArgument, onlyIfAbsent: Bool = false, expireMilliseconds: Int64? = nil) async throws(RedisError) -> Bool {
        var command: [RedisArgument] = ["SET", RedisArgument(key), value]
        if onlyIfAbsent { command.append("NX") }
        if let expireMilliseconds { command.append(contentsOf: ["PX", RedisArgument(expireMilliseconds)]) }
        let reply = try await execute(command)
        return !reply.isNull
    }

    @discardableResult
    public func del(_ keys: [String]) async throws(RedisError) -> Int64 {
        try await expectInt(execute(["DEL"] + keys.map { RedisArgument($0) }), "DEL")
    }

    public func incrby(_ key: String, _ amount: Int64) async throws(RedisError) -> Int64 {
        try await expectInt(execute(["INCRBY", RedisArgument(key), RedisArgument(amount)]), "INCRBY")
    }

    public func mget(_ keys: [String]) async throws(RedisError) -> [[UInt8]?] {
        let reply = try await execute(["MGET"] + keys.map { RedisArgument($0) })
        guard let items = reply.array else { throw .unexpectedReply("MGET returned \(reply)") }
        return items.map { if case .bulk(let bytes) = $0 { bytes } else { nil } }
    }

    @discardableResult
    public func hset(_ key: String, _ fields: [(String, RedisArgument)]) async throws(RedisError) -> Int64 {
        var command: [RedisArgument] = ["HSET", RedisArgument(key)]
        for (field, value) in fields { command.append(contentsOf: [RedisArgument(field), value]) }
        return try await expectInt(execute(command), "HSET")
    }

    public func hgetall(_ key: String) async throws(RedisError) -> [String: String] {
        let reply = try await execute(["HGETALL", RedisArgument(key)])
        return try Self.fieldMap(reply)
    }

    @discardableResult
    public func zadd(_ key: String, _ members: [(score: Double, member: String)]) async throws(RedisError) -> Int64 {
        var command: [RedisArgument] = ["ZADD", RedisArgument(key)]
        for (score, member) in members { command.append(contentsOf: [RedisArgument(String(score)), RedisArgument(member)]) }
        return try await expectInt(execute(command), "ZADD")
    }

    @discardableResult
    public func zrem(_ key: String, _ members: [String]) async throws(RedisError) -> Int64 {
        try await expectInt(execute(["ZREM", RedisArgument(key)] + members.map { RedisArgument($0) }), "ZREM")
    }

    public func zrangebyscore(_ key: String, min: String, max: String) async throws(RedisError) -> [String] {
        let reply = try await execute(["ZRANGEBYSCORE", RedisArgument(key), RedisArgument(min), RedisArgument(max)])
        guard let items = reply.array else { throw .unexpectedReply("ZRANGEBYSCORE returned \(reply)") }
        return items.compactMap(\.string)
    }

    public func zcard(_ key: String) async throws(RedisError) -> Int64 {
        try await expectInt(execute(["ZCARD", RedisArgument(key)]), "ZCARD")
    }

    @discardableResult
    public func expire(_ key: String, seconds: Int64) async throws(RedisError) -> Bool {
        try await expectInt(execute(["EXPIRE", RedisArgument(key), RedisArgument(seconds)]), "EXPIRE") == 1
    }

    /// Redis's clock, in microseconds since the epoch.
    public func time() async throws(RedisError) -> Int64 {
        let reply = try await execute(["TIME"])
        guard let parts = reply.array, parts.count == 2, let seconds = parts[0].int, let micros = parts[1].int else {
            throw .unexpectedReply("TIME returned \(reply)")
        }
        return seconds * 1_000_000 + micros
    }

    /// `INFO [section]` parsed into `field: value` pairs.
    public func info(_ section: String? = nil) async throws(RedisError) -> [String: String] {
        var command: [RedisArgument] = ["INFO"]
        if let section { command.append(RedisArgument(section)) }
        return Self.infoFields(try await expectString(execute(command), "INFO"))
    }

    /// `INFO [section]` of every primary (one on a single server or Sentinel, each node's on a Cluster).
    public func infoOnEveryPrimary(_ section: String? = nil) async throws(RedisError) -> [[String: String]] {
        var command: [RedisArgument] = ["INFO"]
        if let section { command.append(RedisArgument(section)) }
        var result: [[String: String]] = []
        for reply in try await everyPrimary(command) {
            if case .error(let message) = reply { throw .server(message) }
            result.append(Self.infoFields(try expectString(reply, "INFO")))
        }
        return result
    }

    static func infoFields(_ text: String) -> [String: String] {
        var fields: [String: String] = [:]
        for line in text.split(whereSeparator: \.isNewline) where !line.hasPrefix("#") {
            if let colon = line.firstIndex(of: ":") {
                fields[String(line[..<colon])] = String(line[line.index(after: colon)...])
            }
        }
        return fields
    }

    public static func fieldMap(_ reply: RedisReply) throws(RedisError) -> [String: String] {
        guard let items = reply.array, items.count % 2 == 0 else { throw .unexpectedReply("expected field/value pairs, got \(reply)") }
        var fields: [String: String] = [:]
        fields.reserveCapacity(items.count / 2)
        var index = 0
        while index < items.count {
            if let field = items[index].string, let value = items[index + 1].string { fields[field] = value }
            index += 2
        }
        return fields
    }

    private func expectInt(_ reply: RedisReply, _ command: String) throws(RedisError) -> Int64 {
        guard case .integer(let value) = reply else { throw .unexpectedReply("\(command) returned \(reply)") }
        return value
    }

    private func expectString(_ reply: RedisReply, _ command: String) throws(RedisError) -> String {
        guard let text = reply.string else { throw .unexpectedReply("\(command) returned \(reply)") }
        return text
    }
}
