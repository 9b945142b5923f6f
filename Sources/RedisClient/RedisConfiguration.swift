/// Where and how to connect to Redis.
///
/// ```swift
/// let config = try RedisConfiguration(url: "redis://:secret@127.0.0.1:6379/2")
/// let client = RedisClient(configuration: config)
/// ```
public struct RedisConfiguration: Sendable, Equatable {
    public enum Endpoint: Sendable, Equatable {
        case tcp(host: String, port: Int)
        case unix(path: String)
    }

    public var endpoint: Endpoint
    public var username: String?
    public var password: String?
    public var database: Int
    /// How long a connection attempt may take.
    public var connectTimeout: Duration
    /// How long one round trip may take before the commands in flight fail with ``RedisError/timeout``.
    public var commandTimeout: Duration
    /// First wait after a failed connection attempt; doubles on every failure up to ``maxBackoff``.
    public var minBackoff: Duration
    public var maxBackoff: Duration

    public init(
        endpoint: Endpoint,
        username: String? = nil,
        password: String? = nil,
        database: Int = 0,
        connectTimeout: Duration = .seconds(2),
        commandTimeout: Duration = .seconds(2),
        minBackoff: Duration = .milliseconds(50),
        maxBackoff: Duration = .seconds(2)
    ) {
        self.endpoint = endpoint
        self.username = username
        self.password = password
        self.database = database
        self.connectTimeout = connectTimeout
        self.commandTimeout = commandTimeout
        self.minBackoff = minBackoff
        self.maxBackoff = maxBackoff
    }

    /// Parses `redis://[user:password@]host:port[/db]` or `unix:///path/to.sock[?db=N]`.
    public init(url: String) throws(RedisError) {
        if url.hasPrefix("unix://") {
            var path = String(url.dropFirst("unix://".count))
            var database = 0
            if let query = path.firstIndex(of: "?") {
                let params = path[path.index(after: query)...]
                path = String(path[..<query])
                for pair in params.split(separator: "&") {
                    let parts = pair.split(separator: "=", maxSplits: 1)
                    if parts.count == 2, parts[0] == "db", let db = Int(parts[1]), db >= 0 {
                        database = db
                    } else {
                        throw .invalidURL(url)
                    }
                }
            }
            guard path.hasPrefix("/") else { throw .invalidURL(url) }
            self.init(endpoint: .unix(path: path), database: database)
            return
        }
        guard url.hasPrefix("redis://") else { throw .invalidURL(url) }
        var rest = Substring(url.dropFirst("redis://".count))
        var username: String?
        var password: String?
        if let at = rest.lastIndex(of: "@") {
            let userinfo = rest[..<at]
            rest = rest[rest.index(after: at)...]
            if let colon = userinfo.firstIndex(of: ":") {
                let user = String(userinfo[..<colon])
                username = user.isEmpty ? nil : Self.percentDecoded(user)
                password = Self.percentDecoded(String(userinfo[userinfo.index(after: colon)...]))
            } else if !userinfo.isEmpty {
                password = Self.percentDecoded(String(userinfo))
            }
        }
        var database = 0
        if let slash = rest.firstIndex(of: "/") {
            let db = rest[rest.index(after: slash)...]
            rest = rest[..<slash]
            if !db.isEmpty {
                guard let value = Int(db), value >= 0 else { throw .invalidURL(url) }
                database = value
            }
        }
        var host = String(rest)
        var port = 6379
        if host.hasPrefix("[") {  // [::1]:6379
            guard let close = host.firstIndex(of: "]") else { throw .invalidURL(url) }
            let after = host[host.index(after: close)...]
            if after.hasPrefix(":") {
                guard let value = Int(after.dropFirst()), (1...65535).contains(value) else { throw .invalidURL(url) }
                port = value
            }
            host = String(host[host.index(after: host.startIndex)..<close])
        } else if let colon = host.lastIndex(of: ":") {
            guard let value = Int(host[host.index(after: colon)...]), (1...65535).contains(value) else {
                throw .invalidURL(url)
            }
            port = value
            host = String(host[..<colon])
        }
        guard !host.isEmpty else { throw .invalidURL(url) }
        self.init(endpoint: .tcp(host: host, port: port), username: username, password: password, database: database)
    }

    private static func percentDecoded(_ text: String) -> String {
        var bytes: [UInt8] = []
        var iterator = Array(text.utf8).makeIterator()
        while let byte = iterator.next() {
            if byte == UInt8(ascii: "%"), let high = iterator.next(), let low = iterator.next(),
                let value = UInt8(String(decoding: [high, low], as: UTF8.self), radix: 16)
            {
                bytes.append(value)
            } else {
                bytes.append(byte)
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}
