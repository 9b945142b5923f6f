/// Where and how to connect to Redis.
///
/// ```swift
/// let config = try RedisConfiguration(url: "redis://:secret@127.0.0.1:6379/2")
/// let client = RedisClient(configuration: config)
///
/// var managed = try RedisConfiguration(url: "rediss://default:secret@cache.example.com:6379")
/// managed.tls?.caFile = "/etc/ssl/redis-ca.pem"   // nil: the system trust store
/// ```
public struct RedisConfiguration: Sendable, Equatable {
    public enum Endpoint: Sendable, Equatable {
        case tcp(host: String, port: Int)
        case unix(path: String)
    }

    /// TLS settings (`rediss://`). The server's certificate chain and host name are always verified.
    public struct TLS: Sendable, Equatable {
        /// PEM bundle of the CAs to trust; `nil` trusts the system store (`/etc/ssl/certs`).
        public var caFile: String?
        /// PEM client certificate (chain) for servers that require one (`tls-auth-clients yes`).
        public var certificateFile: String?
        /// PEM private key of ``certificateFile``.
        public var keyFile: String?
        /// The name the certificate must carry (and the SNI sent); `nil` uses the URL's host. With an IP
        /// address as host and no name, the certificate must carry that IP address.
        public var serverName: String?

        public init(caFile: String? = nil, certificateFile: String? = nil, keyFile: String? = nil, serverName: String? = nil) {
            self.caFile = caFile
            self.certificateFile = certificateFile
            self.keyFile = keyFile
            self.serverName = serverName
        }
    }

    public var endpoint: Endpoint
    /// `nil`: plain TCP. Set by a `rediss://` URL.
    public var tls: TLS?
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
        tls: TLS? = nil,
        username: String? = nil,
        password: String? = nil,
        database: Int = 0,
        connectTimeout: Duration = .seconds(2),
        commandTimeout: Duration = .seconds(2),
        minBackoff: Duration = .milliseconds(50),
        maxBackoff: Duration = .seconds(2)
    ) {
        self.endpoint = endpoint
        self.tls = tls
        self.username = username
        self.password = password
        self.database = database
        self.connectTimeout = connectTimeout
        self.commandTimeout = commandTimeout
        self.minBackoff = minBackoff
        self.maxBackoff = maxBackoff
    }

    /// Parses `redis://[user:password@]host:port[/db]`, `rediss://…` (the same over TLS, trusting the
    /// system store until ``tls`` says otherwise) or `unix:///path/to.sock[?db=N]`.
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
        let scheme: String
        if url.hasPrefix("redis://") {
            scheme = "redis://"
        } else if url.hasPrefix("rediss://") {
            scheme = "rediss://"
        } else {
            throw .invalidURL(url)
        }
        var rest = Substring(url.dropFirst(scheme.count))
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
        self.init(
            endpoint: .tcp(host: host, port: port), tls: scheme == "rediss://" ? TLS() : nil,
            username: username, password: password, database: database
        )
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
