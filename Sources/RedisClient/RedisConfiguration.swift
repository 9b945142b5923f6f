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
    public enum Endpoint: Sendable, Hashable {
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

    /// Where the primary is found: one fixed server, the one Sentinel names, or a Cluster's slot map.
    public enum Topology: Sendable, Equatable {
        /// ``endpoint`` is the server.
        case single
        /// Ask these sentinels for the primary of `masterName` before every connection.
        case sentinel(Sentinel)
        /// Seed nodes of a Redis Cluster; the slot map says which node serves each key.
        case cluster(seeds: [Endpoint])
    }

    /// A Sentinel deployment: the sentinels' addresses, the monitored master's name, and the credentials
    /// the sentinels want (`nil`: none; a `redis-sentinel://` URL's user and password authenticate to both
    /// the sentinels and the data nodes until this says otherwise).
    public struct Sentinel: Sendable, Equatable {
        public var masterName: String
        public var sentinels: [Endpoint]
        public var username: String?
        public var password: String?

        public init(masterName: String, sentinels: [Endpoint], username: String? = nil, password: String? = nil) {
            self.masterName = masterName
            self.sentinels = sentinels
            self.username = username
            self.password = password
        }
    }

    /// The server for ``Topology/single``; for Sentinel and Cluster, the first sentinel or seed (informative).
    public var endpoint: Endpoint
    public var topology: Topology = .single
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
    /// system store until ``tls`` says otherwise), `unix:///path/to.sock[?db=N]`,
    /// `redis-sentinel://[user:password@]host:port[,host:port…]/master-name[/db]` (sentinel port 26379 by
    /// default) or `redis-cluster://[user:password@]host:port[,host:port…]` (seed nodes); `rediss-sentinel://`
    /// and `rediss-cluster://` speak TLS to every node.
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
        let schemes = ["redis://", "rediss://", "redis-sentinel://", "rediss-sentinel://", "redis-cluster://", "rediss-cluster://"]
        guard let scheme = schemes.first(where: { url.hasPrefix($0) }) else { throw .invalidURL(url) }
        let secure = scheme.hasPrefix("rediss")
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
        var path: [Substring] = []
        if let slash = rest.firstIndex(of: "/") {
            path = rest[rest.index(after: slash)...].split(separator: "/", omittingEmptySubsequences: false)
            rest = rest[..<slash]
        }
        func database(_ text: Substring?) throws(RedisError) -> Int {
            guard let text, !text.isEmpty else { return 0 }
            guard let value = Int(text), value >= 0 else { throw .invalidURL(url) }
            return value
        }
        let tls = secure ? TLS() : nil
        if scheme.hasSuffix("-sentinel://") {
            // redis-sentinel://[user:pass@]host:port[,host:port…]/master-name[/db]
            guard let name = path.first, !name.isEmpty, path.count <= 2 else { throw .invalidURL(url) }
            let sentinels = try Self.endpoints(rest, defaultPort: 26379, url: url)
            self.init(endpoint: sentinels[0], tls: tls, username: username, password: password, database: try database(path.dropFirst().first))
            topology = .sentinel(Sentinel(masterName: Self.percentDecoded(String(name)), sentinels: sentinels, username: username, password: password))
        } else if scheme.hasSuffix("-cluster://") {
            // redis-cluster://[user:pass@]host:port[,host:port…] (a cluster has database 0 only)
            guard path.allSatisfy(\.isEmpty) else { throw .invalidURL(url) }
            let seeds = try Self.endpoints(rest, defaultPort: 6379, url: url)
            self.init(endpoint: seeds[0], tls: tls, username: username, password: password)
            topology = .cluster(seeds: seeds)
        } else {
            guard path.count <= 1 else { throw .invalidURL(url) }
            let hosts = try Self.endpoints(rest, defaultPort: 6379, url: url)
            guard hosts.count == 1 else { throw .invalidURL(url) }
            self.init(endpoint: hosts[0], tls: tls, username: username, password: password, database: try database(path.first))
        }
    }

    /// `host[:port][,host[:port]…]`, IPv6 hosts in brackets.
    private static func endpoints(_ list: Substring, defaultPort: Int, url: String) throws(RedisError) -> [Endpoint] {
        var endpoints: [Endpoint] = []
        for item in list.split(separator: ",", omittingEmptySubsequences: false) {
            var host = String(item)
            var port = defaultPort
            if host.hasPrefix("[") {  // [::1]:6379
                guard let close = host.firstIndex(of: "]") else { throw .invalidURL(url) }
                let after = host[host.index(after: close)...]
                if after.hasPrefix(":") {
                    guard let value = Int(after.dropFirst()), (1...65535).contains(value) else { throw .invalidURL(url) }
                    port = value
                } else if !after.isEmpty {
                    throw .invalidURL(url)
                }
                host = String(host[host.index(after: host.startIndex)..<close])
            } else if let colon = host.lastIndex(of: ":") {
                guard let value = Int(host[host.index(after: colon)...]), (1...65535).contains(value) else { throw .invalidURL(url) }
                port = value
                host = String(host[..<colon])
            }
            guard !host.isEmpty else { throw .invalidURL(url) }
            endpoints.append(.tcp(host: host, port: port))
        }
        return endpoints
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
