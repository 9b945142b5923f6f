import Foundation
import Logging
import WaitingRoomCore
import Yams

/// One instance setting, declared once: its environment variable, its key in `Config/waitroom.yaml` (nil for
/// secrets, which come from the environment only) and how its text becomes the value. The file and the
/// environment go through the same parser, so a value means the same wherever it is written; the README and
/// the compose file are checked against ``GateConfiguration/settings``, not against this source.
public struct GateSetting: Sendable {
    public typealias Apply = @Sendable (inout GateConfiguration, _ text: String, _ key: String) throws(ConfigurationError) -> Void

    /// `WAITROOM_…`.
    public let environment: String
    /// The dotted key in `Config/waitroom.yaml` (`http.port`); nil: environment only.
    public let file: String?
    /// A value that parses (and passes validation with the defaults), for the tests that set each setting both ways.
    public let example: String
    let apply: Apply

    init(_ environment: String, file: String?, example: String, apply: @escaping Apply) {
        self.environment = environment
        self.file = file
        self.example = example
        self.apply = apply
    }
}

extension GateSetting {
    static func string(_ environment: String, file: String?, example: String, _ path: WritableKeyPath<GateConfiguration, String> & Sendable) -> Self {
        Self(environment, file: file, example: example) { configuration, text, _ in configuration[keyPath: path] = text }
    }

    static func optionalString(
        _ environment: String, file: String?, example: String, _ path: WritableKeyPath<GateConfiguration, String?> & Sendable
    ) -> Self {
        Self(environment, file: file, example: example) { configuration, text, _ in configuration[keyPath: path] = text }
    }

    static func int(_ environment: String, file: String?, example: String, _ path: WritableKeyPath<GateConfiguration, Int> & Sendable) -> Self {
        Self(environment, file: file, example: example) { configuration, text, key throws(ConfigurationError) in
            configuration[keyPath: path] = try integer(text, key: key)
        }
    }

    static func bool(_ environment: String, file: String?, example: String, _ path: WritableKeyPath<GateConfiguration, Bool> & Sendable) -> Self {
        Self(environment, file: file, example: example) { configuration, text, key throws(ConfigurationError) in
            switch text.lowercased() {
            case "1", "true", "yes", "on": configuration[keyPath: path] = true
            case "0", "false", "no", "off", "": configuration[keyPath: path] = false
            default: throw ConfigurationError(key: key, reason: "must be true or false, got \(text)")
            }
        }
    }

    /// Comma-separated in the environment, a YAML list in the file; blanks dropped.
    static func list(_ environment: String, file: String?, example: String, _ path: WritableKeyPath<GateConfiguration, [String]> & Sendable) -> Self {
        Self(environment, file: file, example: example) { configuration, text, _ in
            configuration[keyPath: path] = text.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        }
    }

    static func integer(_ text: String, key: String) throws(ConfigurationError) -> Int {
        guard let value = Int(text.trimmingCharacters(in: .whitespaces)) else { throw ConfigurationError(key: key, reason: "must be an integer, got \(text)") }
        return value
    }
}

extension GateConfiguration {
    /// Every instance setting. Files that hold more settings (`WAITROOM_CONFIG`, `WAITROOM_ROOMS_FILE`,
    /// `WAITROOM_TEMPLATES_DIR`) are in ``fileVariables``.
    public static let settings: [GateSetting] = [
        .string("WAITROOM_HTTP_HOST", file: "http.host", example: "0.0.0.0", \.httpHost),
        .int("WAITROOM_HTTP_PORT", file: "http.port", example: "9090", \.httpPort),
        .bool("WAITROOM_SECURE_COOKIES", file: "http.secureCookies", example: "true", \.secureCookies),
        .int("WAITROOM_MAX_BODY_BYTES", file: "http.maxBodyBytes", example: "32768", \.maxBodyBytes),
        .string("WAITROOM_REDIS_URL", file: "redis.url", example: "redis://cache.internal:6380/2", \.redisURL),
        .int("WAITROOM_REDIS_TIMEOUT_MS", file: "redis.commandTimeoutMs", example: "1500", \.redisCommandTimeoutMs),
        GateSetting("WAITROOM_REDIS_SENTINEL_USERNAME", file: nil, example: "watcher") { configuration, text, _ in
            configuration.redisSentinelUsername = .some(text.isEmpty ? nil : text)
        },
        GateSetting("WAITROOM_REDIS_SENTINEL_PASSWORD", file: nil, example: "sentinel-secret") { configuration, text, _ in
            configuration.redisSentinelPassword = .some(text.isEmpty ? nil : text)
        },
        .int("WAITROOM_REDIS_MIN_REPLICAS", file: "redis.minReplicas", example: "1", \.redisMinReplicas),
        .int("WAITROOM_REDIS_MIN_REPLICAS_TIMEOUT_MS", file: "redis.minReplicasTimeoutMs", example: "250", \.redisMinReplicasTimeoutMs),
        .optionalString("WAITROOM_REDIS_TLS_CA_FILE", file: "redis.tls.caFile", example: "/etc/hostname", \.redisTLSCAFile),
        .optionalString("WAITROOM_REDIS_TLS_CERT_FILE", file: "redis.tls.certFile", example: "/etc/hostname", \.redisTLSCertFile),
        .optionalString("WAITROOM_REDIS_TLS_KEY_FILE", file: "redis.tls.keyFile", example: "/etc/hostname", \.redisTLSKeyFile),
        .optionalString("WAITROOM_REDIS_TLS_SERVER_NAME", file: "redis.tls.serverName", example: "redis.internal", \.redisTLSServerName),
        .list("WAITROOM_SIGNING_KEY_FILE", file: "tokens.signingKeyFiles", example: "a.pem,b.pem", \.signingKeyFiles),
        .optionalString("WAITROOM_TICKET_SECRET", file: "tokens.ticketSecret", example: "ticket-secret-0123456789", \.ticketSecret),
        .optionalString("WAITROOM_ADMIN_KEY", file: nil, example: "admin-key-0123456789", \.adminKey),
        .optionalString("WAITROOM_SERVICE_KEY", file: nil, example: "service-key-0123456789", \.serviceKey),
        .string("WAITROOM_ISSUER", file: "tokens.issuer", example: "shop-gate", \.issuer),
        .int("WAITROOM_TOKEN_LEEWAY_SECONDS", file: "tokens.leewaySeconds", example: "10", \.leewaySeconds),
        .int("WAITROOM_REFRESH_INTERVAL_MS", file: "refreshIntervalMs", example: "50", \.refreshIntervalMs),
        .int("WAITROOM_STALE_AFTER_MS", file: "staleAfterMs", example: "3000", \.staleAfterMs),
        .int("WAITROOM_BOARD_READ_AFTER_MS", file: "board.readAfterMs", example: "5000", \.boardReadAfterMs),
        .int("WAITROOM_BOARD_READS_PER_SECOND", file: "board.readsPerSecond", example: "500", \.boardReadsPerSecond),
        GateSetting("WAITROOM_LOG_FORMAT", file: "logging.format", example: "json") { configuration, text, key throws(ConfigurationError) in
            guard let format = LogFormat(rawValue: text) else { throw ConfigurationError(key: key, reason: "must be text or json") }
            configuration.logFormat = format
        },
        GateSetting("WAITROOM_LOG_LEVEL", file: "logging.level", example: "warning") { configuration, text, key throws(ConfigurationError) in
            guard let level = Logger.Level(rawValue: text) else { throw ConfigurationError(key: key, reason: "unknown level \(text)") }
            configuration.logLevel = level
        },
        .bool("WAITROOM_LOG_EVENTS", file: "logging.events", example: "true", \.logEvents),
        GateSetting("WAITROOM_ENV", file: nil, example: "staging") { configuration, text, _ in configuration.development = text != "production" },
        .int("WAITROOM_HTTP_IDLE_TIMEOUT_MS", file: "limits.idleTimeoutMs", example: "5000", \.limits.idleTimeoutMs),
        .int("WAITROOM_HTTP_READ_TIMEOUT_MS", file: "limits.readTimeoutMs", example: "2500", \.limits.readTimeoutMs),
        .int("WAITROOM_HTTP_WRITE_TIMEOUT_MS", file: "limits.writeTimeoutMs", example: "4000", \.limits.writeTimeoutMs),
        .int("WAITROOM_HTTP_MAX_UNSENT_BYTES", file: "limits.maxUnsentBytes", example: "131072", \.limits.maxUnsentBytes),
        GateSetting("WAITROOM_HTTP_MAX_CONNECTIONS", file: "limits.maxConnections", example: "900") { configuration, text, key throws(ConfigurationError) in
            // "auto" (or empty): derived from the descriptor limit.
            guard text != "auto" && !text.isEmpty else { return configuration.limits.maxConnections = nil }
            guard let value = Int(text) else { throw ConfigurationError(key: key, reason: "must be an integer or auto, got \(text)") }
            configuration.limits.maxConnections = value
        },
        GateSetting("WAITROOM_TRUSTED_PROXIES", file: "limits.trustedProxies", example: "10.0.0.0/8,fd00::/8") { configuration, text, key throws(ConfigurationError) in
            switch TrustedProxies.parse(text) {
            case .success(let proxies): configuration.limits.trustedProxies = proxies
            case .failure(let error): throw ConfigurationError(key: key, reason: error.description)
            }
        },
        GateSetting("WAITROOM_METRICS_KEY", file: nil, example: "metrics-key-0123456789") { configuration, text, _ in
            configuration.limits.metricsKey = text.isEmpty ? nil : text
        },
        .bool("WAITROOM_SHARED_JOIN_BUDGET", file: "limits.sharedJoinBudget", example: "true", \.limits.sharedJoinBudget),
    ]

    /// Variables that name files holding more settings (read by ``load(file:roomsFile:environment:)``).
    public static let fileVariables = ["WAITROOM_CONFIG", "WAITROOM_ROOMS_FILE", "WAITROOM_TEMPLATES_DIR"]

    /// Every environment variable the gate reads.
    public static var environmentVariables: [String] { settings.map(\.environment) + fileVariables }

    /// Environment variables override the file. Names: ``settings``.
    public mutating func apply(environment: [String: String]) throws(ConfigurationError) {
        for setting in Self.settings {
            if let text = environment[setting.environment] { try setting.apply(&self, text, setting.environment) }
        }
    }

    /// `Config/waitroom.yaml`: each key is a setting's `file` key; an unknown key stops start-up (a typo would
    /// otherwise be a silent default).
    public mutating func apply(yamlFile path: String) throws(ConfigurationError) {
        let values: [String: String]
        do {
            let text = try String(contentsOfFile: path, encoding: .utf8)
            values = try Self.flatten(try Yams.compose(yaml: text), prefix: "")
        } catch let error as ConfigurationError {
            throw error
        } catch {
            throw ConfigurationError(key: path, reason: "\(error)")
        }
        let byKey = Dictionary(uniqueKeysWithValues: Self.settings.compactMap { setting in setting.file.map { ($0, setting) } })
        for (key, text) in values.sorted(by: { $0.key < $1.key }) {
            guard let setting = byKey[key] else {
                throw ConfigurationError(key: key, reason: "no such setting in \(path) (secrets come from the environment only)")
            }
            try setting.apply(&self, text, key)
        }
    }

    /// The YAML tree as dotted keys and the text of each value (a list as comma-separated text, as the
    /// environment writes it). Null values (a key with nothing after it) are left out.
    static func flatten(_ node: Node?, prefix: String) throws(ConfigurationError) -> [String: String] {
        guard let node else { return [:] }
        if let mapping = node.mapping {
            var values: [String: String] = [:]
            for (key, value) in mapping {
                guard let name = key.string else { throw ConfigurationError(key: prefix, reason: "keys must be names") }
                try values.merge(flatten(value, prefix: prefix.isEmpty ? name : prefix + "." + name)) { first, _ in first }
            }
            return values
        }
        if let sequence = node.sequence {
            var items: [String] = []
            for item in sequence {
                guard let text = item.string else { throw ConfigurationError(key: prefix, reason: "a list of plain values is expected") }
                items.append(text)
            }
            return [prefix: items.joined(separator: ",")]
        }
        guard let scalar = node.scalar, !prefix.isEmpty else { throw ConfigurationError(key: prefix.isEmpty ? "(file)" : prefix, reason: "a mapping is expected") }
        if scalar.style == .plain && ["", "~", "null", "Null", "NULL"].contains(scalar.string) { return [:] }
        return [prefix: scalar.string]
    }
}
