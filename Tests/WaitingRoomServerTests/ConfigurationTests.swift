import Foundation
import Testing
import WaitingRoomServer

@Suite("Configuration")
struct ConfigurationTests {
    func file(_ text: String) throws -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("config-\(UUID().uuidString).yaml").path
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    @Test("the shipped Config/ files load and validate")
    func shippedFiles() throws {
        let root = OrderServiceEndToEndTests.packageRoot
        let configuration = try GateConfiguration.load(
            file: root.appendingPathComponent("Config/waitroom.yaml").path, roomsFile: root.appendingPathComponent("Config/rooms.yaml").path,
            environment: [:]
        )
        #expect(configuration.httpPort == 8080)
        #expect(configuration.rooms["demo"] != nil)
        #expect(configuration.rooms["sneaker-drop"]?.opensAt != nil, "the example scheduled drop")
    }

    @Test("environment variables override the file")
    func environmentWins() throws {
        let path = try file("http:\n  port: 9000\nredis:\n  url: redis://file:1\n")
        let configuration = try GateConfiguration.load(
            file: path, roomsFile: try file("rooms: {}"), environment: ["WAITROOM_HTTP_PORT": "9100", "WAITROOM_SIGNING_KEY_FILE": "a.pem, b.pem"]
        )
        #expect(configuration.httpPort == 9100)
        #expect(configuration.redisURL == "redis://file:1")
        #expect(configuration.signingKeyFiles == ["a.pem", "b.pem"])
    }

    @Test("a bad value stops start-up with a message naming the key", arguments: [
        ("WAITROOM_HTTP_PORT", "eighty", "WAITROOM_HTTP_PORT"),
        ("WAITROOM_HTTP_PORT", "70000", "http.port"),
        ("WAITROOM_TICKET_SECRET", "short", "tokens.ticketSecret"),
        ("WAITROOM_ADMIN_KEY", "short", "admin.key"),
        ("WAITROOM_LOG_FORMAT", "xml", "WAITROOM_LOG_FORMAT"),
        ("WAITROOM_REFRESH_INTERVAL_MS", "1000", "refreshIntervalMs"),
        ("WAITROOM_SECURE_COOKIES", "maybe", "WAITROOM_SECURE_COOKIES"),
        ("WAITROOM_ENV", "production", "tokens.signingKeyFiles"),
        ("WAITROOM_HTTP_IDLE_TIMEOUT_MS", "soon", "WAITROOM_HTTP_IDLE_TIMEOUT_MS"),
        ("WAITROOM_HTTP_IDLE_TIMEOUT_MS", "10", "limits.idleTimeoutMs"),
        ("WAITROOM_HTTP_READ_TIMEOUT_MS", "0", "limits.readTimeoutMs"),
        ("WAITROOM_HTTP_WRITE_TIMEOUT_MS", "0", "limits.writeTimeoutMs"),
        ("WAITROOM_HTTP_MAX_UNSENT_BYTES", "100", "limits.maxUnsentBytes"),
        ("WAITROOM_HTTP_MAX_CONNECTIONS", "lots", "WAITROOM_HTTP_MAX_CONNECTIONS"),
        ("WAITROOM_HTTP_MAX_CONNECTIONS", "0", "limits.maxConnections"),
        ("WAITROOM_TRUSTED_PROXIES", "10.0.0.0/8,not-a-cidr", "WAITROOM_TRUSTED_PROXIES"),
        ("WAITROOM_METRICS_KEY", "short", "WAITROOM_METRICS_KEY"),
        ("WAITROOM_REDIS_TLS_CA_FILE", "/etc/hostname", "redis.tls"),  // TLS settings with a redis:// URL
        ("WAITROOM_REDIS_MIN_REPLICAS", "one", "WAITROOM_REDIS_MIN_REPLICAS"),
        ("WAITROOM_REDIS_MIN_REPLICAS", "-1", "redis.minReplicas"),
        ("WAITROOM_REDIS_MIN_REPLICAS_TIMEOUT_MS", "0", "redis.minReplicasTimeoutMs"),
    ])
    func badEnvironment(name: String, value: String, key: String) {
        #expect { try GateConfiguration.load(file: try file("{}"), roomsFile: try file("rooms: {}"), environment: [name: value]) } throws: {
            ($0 as? ConfigurationError)?.key == key
        }
    }

    @Test("TLS settings for rediss:// from the file and the environment; unreadable files and half a client certificate name the key")
    func redisTLS() throws {
        let path = try file("redis:\n  url: rediss://cache.example:6380\n  tls:\n    caFile: /etc/hostname\n    serverName: from-file\n")
        let configuration = try GateConfiguration.load(
            file: path, roomsFile: try file("rooms: {}"), environment: ["WAITROOM_REDIS_TLS_SERVER_NAME": "cache.example"]
        )
        #expect(configuration.redisTLSCAFile == "/etc/hostname")
        #expect(configuration.redisTLSServerName == "cache.example")
        for (environment, key) in [
            (["WAITROOM_REDIS_TLS_CA_FILE": "/nonexistent/ca.pem"], "redis.tls.caFile"),
            (["WAITROOM_REDIS_TLS_CERT_FILE": "/etc/hostname"], "redis.tls.keyFile"),
        ] {
            #expect { try GateConfiguration.load(file: path, roomsFile: try file("rooms: {}"), environment: environment) } throws: {
                ($0 as? ConfigurationError)?.key == key
            }
        }
    }

    @Test("MIN_REPLICAS and Sentinel credentials: file, environment, and an empty sentinel password meaning none")
    func redisFailover() throws {
        let path = try file("redis:\n  url: redis-sentinel://u:p@s1,s2/wr\n  minReplicas: 1\n  minReplicasTimeoutMs: 250\n")
        let fromFile = try GateConfiguration.load(file: path, roomsFile: try file("rooms: {}"), environment: [:])
        #expect(fromFile.redisMinReplicas == 1 && fromFile.redisMinReplicasTimeoutMs == 250)
        #expect(fromFile.redisSentinelPassword == nil, "unset: the URL's password serves the sentinels too")
        let overridden = try GateConfiguration.load(
            file: path, roomsFile: try file("rooms: {}"),
            environment: ["WAITROOM_REDIS_MIN_REPLICAS": "2", "WAITROOM_REDIS_SENTINEL_PASSWORD": "", "WAITROOM_REDIS_SENTINEL_USERNAME": "watcher"]
        )
        #expect(overridden.redisMinReplicas == 2)
        #expect(overridden.redisSentinelPassword == .some(nil), "empty: the sentinels want no password")
        #expect(overridden.redisSentinelUsername == .some("watcher"))
        // With replicas to wait for, the WAIT must fit in the command timeout; without, a short timeout is fine.
        #expect(throws: ConfigurationError.self) {
            try GateConfiguration.load(file: path, roomsFile: try file("rooms: {}"), environment: ["WAITROOM_REDIS_MIN_REPLICAS_TIMEOUT_MS": "2000"])
        }
        let short = try GateConfiguration.load(file: nil, roomsFile: try file("rooms: {}"), environment: ["WAITROOM_REDIS_TIMEOUT_MS": "300"])
        #expect(short.redisCommandTimeoutMs == 300 && short.redisMinReplicas == 0)
    }

    @Test("a configuration file named explicitly must exist")
    func missingFile() {
        #expect { try GateConfiguration.load(file: nil, roomsFile: nil, environment: ["WAITROOM_CONFIG": "/nonexistent/waitroom.yaml"]) } throws: {
            ($0 as? ConfigurationError)?.key == "WAITROOM_CONFIG"
        }
    }

    @Test("a bad room in the rooms file names the room and field")
    func badRoom() throws {
        let rooms = try file("rooms:\n  drop:\n    rate: -5\n    checkoutUrl: https://shop/checkout\n")
        #expect { try GateConfiguration.load(file: try file("{}"), roomsFile: rooms, environment: [:]) } throws: {
            ($0 as? ConfigurationError)?.key == "rooms.drop.rate"
        }
        let badDate = try file("rooms:\n  drop:\n    rate: 5\n    checkoutUrl: https://shop/checkout\n    opensAt: soon\n")
        #expect { try GateConfiguration.load(file: try file("{}"), roomsFile: badDate, environment: [:]) } throws: {
            ($0 as? ConfigurationError)?.key == "rooms.drop.opensAt"
        }
    }

    @Test("connection limits, trusted proxies, metrics key and join limit: defaults, file, environment")
    func limits() throws {
        let defaults = try GateConfiguration.load(file: try file("{}"), roomsFile: try file("rooms: {}"), environment: [:])
        #expect(defaults.limits.idleTimeoutMs == 30_000)
        #expect(defaults.limits.readTimeoutMs == 10_000)
        #expect(defaults.limits.writeTimeoutMs == 10_000)
        #expect(defaults.limits.maxUnsentBytes == 65_536)
        #expect(defaults.limits.maxConnections == nil)
        #expect(defaults.limits.effectiveMaxConnections >= 16)
        #expect(defaults.limits.trustedProxies == .none)
        #expect(defaults.limits.metricsKey == nil)
        let fromFile = try GateConfiguration.load(
            file: try file("limits:\n  idleTimeoutMs: 5000\n  writeTimeoutMs: 4000\n  maxConnections: 900\n  trustedProxies: [10.0.0.0/8, \"fd00::/8\"]\n"),
            roomsFile: try file("rooms: {}"),
            environment: [
                "WAITROOM_HTTP_READ_TIMEOUT_MS": "2500", "WAITROOM_HTTP_MAX_UNSENT_BYTES": "131072", "WAITROOM_METRICS_KEY": "metrics-key-0123456789",
            ]
        )
        #expect(fromFile.limits.idleTimeoutMs == 5_000)
        #expect(fromFile.limits.readTimeoutMs == 2_500)
        #expect(fromFile.limits.writeTimeoutMs == 4_000)
        #expect(fromFile.limits.maxUnsentBytes == 131_072)
        #expect(fromFile.limits.effectiveMaxConnections == 900)
        #expect(fromFile.limits.trustedProxies.blocks.count == 2)
        #expect(fromFile.limits.metricsKey == "metrics-key-0123456789")
        let auto = try GateConfiguration.load(
            file: try file("limits:\n  maxConnections: 900\n"), roomsFile: try file("rooms: {}"),
            environment: ["WAITROOM_HTTP_MAX_CONNECTIONS": "auto", "WAITROOM_TRUSTED_PROXIES": "127.0.0.1, ::1"]
        )
        #expect(auto.limits.maxConnections == nil)
        #expect(auto.limits.trustedProxies.blocks.count == 2)
    }
}

/// Each instance setting is declared once (``GateConfiguration/settings``): the file and the environment
/// must mean the same, and a typo in the file must stop start-up.
@Suite("Configuration: one declaration per setting")
struct GateSettingsTests {
    /// `a.b.c` and a value as YAML (a value with commas as a list).
    static func yaml(_ key: String, _ value: String) -> String {
        let parts = key.split(separator: ".")
        var text = ""
        for (depth, part) in parts.dropLast().enumerated() { text += String(repeating: "  ", count: depth) + "\(part):\n" }
        let rendered = value.contains(",") ? "[" + value.split(separator: ",").map { "\"\($0)\"" }.joined(separator: ", ") + "]" : "\"\(value)\""
        return text + String(repeating: "  ", count: parts.count - 1) + "\(parts.last!): \(rendered)\n"
    }

    @Test("a setting means the same from Config/waitroom.yaml and from its variable, and changes the configuration", arguments: GateConfiguration.settings.filter { $0.file != nil })
    func sameBothWays(_ setting: GateSetting) throws {
        var fromEnvironment = GateConfiguration()
        try fromEnvironment.apply(environment: [setting.environment: setting.example])
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("setting-\(UUID().uuidString).yaml").path
        try Self.yaml(setting.file!, setting.example).write(toFile: path, atomically: true, encoding: .utf8)
        var fromFile = GateConfiguration()
        try fromFile.apply(yamlFile: path)
        #expect(String(reflecting: fromFile) == String(reflecting: fromEnvironment))
        #expect(String(reflecting: fromFile) != String(reflecting: GateConfiguration()), "the example must change something")
    }

    @Test("secrets have no key in the file", arguments: ["WAITROOM_ADMIN_KEY", "WAITROOM_SERVICE_KEY", "WAITROOM_METRICS_KEY", "WAITROOM_REDIS_SENTINEL_PASSWORD"])
    func secretsFromTheEnvironmentOnly(_ name: String) throws {
        let setting = try #require(GateConfiguration.settings.first { $0.environment == name })
        #expect(setting.file == nil)
    }

    @Test("every variable and file key is declared once")
    func declaredOnce() {
        let names = GateConfiguration.environmentVariables
        #expect(Set(names).count == names.count)
        let keys = GateConfiguration.settings.compactMap(\.file)
        #expect(Set(keys).count == keys.count)
    }

    @Test("an unknown key in the file stops start-up naming it", arguments: ["http.prot: 9090\n", "limits:\n  idleTimeout: 5\n", "redis:\n  tls:\n    caFiles: x\n"])
    func unknownKey(_ text: String) throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("unknown-\(UUID().uuidString).yaml").path
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        var configuration = GateConfiguration()
        #expect { try configuration.apply(yamlFile: path) } throws: { error in
            guard let error = error as? ConfigurationError else { return false }
            return ["http.prot", "limits.idleTimeout", "redis.tls.caFiles"].contains(error.key)
        }
    }
}
