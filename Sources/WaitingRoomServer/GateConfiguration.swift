import Foundation
import Logging
import WaitingRoomCore
import Yams

/// Everything `waitroom serve` needs, with documented defaults. Read from `Config/waitroom.yaml` (or the file
/// named by `WAITROOM_CONFIG`), then environment variables, which win. Validated at start-up; an error
/// names the bad key. Each setting's variable, file key and parser are declared once, in
/// ``settings`` (`GateConfiguration+Settings.swift`).
public struct GateConfiguration: Sendable {
    public var httpHost = "127.0.0.1"
    public var httpPort = 8080
    /// Cookies get `Secure` (set behind TLS).
    public var secureCookies = false
    /// Write every room event (state and settings changes, per-minute aggregates) to the log, once across
    /// all gates (`WAITROOM_LOG_EVENTS`).
    public var logEvents = false
    /// Bodies larger than this answer 413.
    public var maxBodyBytes = 16 * 1024
    public var redisURL = "redis://127.0.0.1:6379"
    public var redisCommandTimeoutMs = 2_000
    /// Sentinel credentials when they differ from the URL's (which authenticate to sentinels and data nodes
    /// alike): `.some(nil)` means the sentinels want none. Environment only.
    public var redisSentinelUsername: String??
    public var redisSentinelPassword: String??
    /// A join or claim is answered only once `WAIT` saw its write on this many replicas (0: no wait).
    public var redisMinReplicas = 0
    /// How long that `WAIT` may take before the join or claim answers 503 (below the command timeout).
    public var redisMinReplicasTimeoutMs = 500
    /// TLS for a `rediss://` URL (all optional): the CA bundle to trust (`nil`: the system store), a client
    /// certificate and its key, and the name the server's certificate must carry (`nil`: the URL's host).
    public var redisTLSCAFile: String?
    public var redisTLSCertFile: String?
    public var redisTLSKeyFile: String?
    public var redisTLSServerName: String?
    /// PEM files of Ed25519 keys: the first signs, all are published in the JWKS (rotation).
    public var signingKeyFiles: [String] = []
    /// Shared by every instance; at least 16 bytes. Without it a development run makes a throwaway one.
    public var ticketSecret: String?
    public var adminKey: String?
    public var serviceKey: String?
    public var issuer = "waitroom"
    public var leewaySeconds = 5
    /// How often each instance ticks and re-reads every room (at least 4 times a second).
    public var refreshIntervalMs = 100
    /// After this long without a successful refresh, polls are answered with `"stale": true`.
    public var staleAfterMs = 2_000
    /// How often a waiting page reads its room's board (the board's `readAfterMs`). 1.5 s with a cache in front (a
    /// pause then shows on every page within about 3 s); raise it when every board read reaches the gates.
    public var boardReadAfterMs = 1_500
    /// Board reads a second per room this gate answers before it stretches the pages' read interval
    /// (``BoardPacing``): a cache in front sends about one a second per node, pages without one many more.
    public var boardReadsPerSecond = 200
    public var logFormat = LogFormat.text
    public var logLevel = Logger.Level.info
    /// Rooms created at start-up when absent (from `Config/rooms.yaml` or `WAITROOM_ROOMS_FILE`).
    public var rooms: [String: RoomSettings] = [:]
    /// Allows throwaway keys and secrets; off in production (`WAITROOM_ENV=production`).
    public var development = true
    /// Connection limits, trusted proxies, the metrics key, the per-client join limit.
    public var limits = HardeningConfiguration()
    /// A directory whose `wait.html` (and optionally `strings.json`) replaces the built-in waiting page:
    /// `Config/templates` when it has a `wait.html`, or `WAITROOM_TEMPLATES_DIR`. Checked at start-up.
    public var templatesDirectory: String?
    /// The configuration file and rooms file read by ``load(file:roomsFile:environment:)``; nil when none was
    /// (the defaults under `Config/` are optional: started elsewhere, the gate runs on built-in defaults).
    public var configurationFile: String?
    public var roomsFile: String?

    public enum LogFormat: String, Sendable, Codable { case text, json }

    public init() {}

    /// Where the settings came from, for the start-up log: the files read, or that there were none.
    public var sourceDescription: String {
        let files = configurationFile.map { "configuration from \($0)" }
            ?? "no configuration file (neither --config, WAITROOM_CONFIG nor Config/waitroom.yaml): built-in defaults and WAITROOM_* variables"
        return files + "; " + (roomsFile.map { "rooms from \($0)" } ?? "no rooms file (no Config/rooms.yaml): rooms come from the admin API")
    }

    /// Loads the configuration file (if any) and applies the environment.
    public static func load(
        file: String? = nil,
        roomsFile: String? = nil,
        environment: [String: String] = ProcessInfo.processInfo.environment
    ) throws(ConfigurationError) -> GateConfiguration {
        var configuration = GateConfiguration()
        // Files named explicitly must exist; the defaults under Config/ are optional.
        if let path = try chosen(file, environment["WAITROOM_CONFIG"], key: "WAITROOM_CONFIG", fallback: "Config/waitroom.yaml") {
            try configuration.apply(yamlFile: path)
            configuration.configurationFile = path
        }
        if let path = try chosen(roomsFile, environment["WAITROOM_ROOMS_FILE"], key: "WAITROOM_ROOMS_FILE", fallback: "Config/rooms.yaml") {
            configuration.rooms = try RoomsFile.load(path)
            configuration.roomsFile = path
        }
        if let directory = environment["WAITROOM_TEMPLATES_DIR"] {
            guard FileManager.default.fileExists(atPath: directory + "/wait.html") else {
                throw ConfigurationError(key: "WAITROOM_TEMPLATES_DIR", reason: "no wait.html in \(directory)")
            }
            configuration.templatesDirectory = directory
        } else if FileManager.default.fileExists(atPath: "Config/templates/wait.html") {
            configuration.templatesDirectory = "Config/templates"
        }
        try configuration.apply(environment: environment)
        try configuration.validate()
        return configuration
    }

    private static func chosen(_ flag: String?, _ variable: String?, key: String, fallback: String) throws(ConfigurationError) -> String? {
        if let path = flag ?? variable {
            guard FileManager.default.fileExists(atPath: path) else { throw ConfigurationError(key: key, reason: "no such file: \(path)") }
            return path
        }
        return FileManager.default.fileExists(atPath: fallback) ? fallback : nil
    }

    public func validate() throws(ConfigurationError) {
        guard !httpHost.isEmpty else { throw ConfigurationError(key: "http.host", reason: "must not be empty") }
        guard (0...65_535).contains(httpPort) else { throw ConfigurationError(key: "http.port", reason: "must be 0...65535") }
        guard maxBodyBytes >= 256 else { throw ConfigurationError(key: "http.maxBodyBytes", reason: "must be at least 256") }
        guard (1...250).contains(refreshIntervalMs) else { throw ConfigurationError(key: "refreshIntervalMs", reason: "must be 1...250 (at least 4 refreshes a second)") }
        guard (500...60_000).contains(boardReadAfterMs) else { throw ConfigurationError(key: "board.readAfterMs", reason: "must be 500...60000") }
        guard (1...1_000_000).contains(boardReadsPerSecond) else { throw ConfigurationError(key: "board.readsPerSecond", reason: "must be 1...1000000") }
        try limits.validate()
        guard redisCommandTimeoutMs > 0 else { throw ConfigurationError(key: "redis.commandTimeoutMs", reason: "must be positive") }
        guard (0...16).contains(redisMinReplicas) else { throw ConfigurationError(key: "redis.minReplicas", reason: "must be 0...16") }
        // The WAIT timeout must fit in the command's deadline, when there is a WAIT at all (a gate without
        // replicas may well run with a short command timeout).
        guard redisMinReplicasTimeoutMs > 0 && (redisMinReplicas == 0 || redisMinReplicasTimeoutMs < redisCommandTimeoutMs) else {
            throw ConfigurationError(key: "redis.minReplicasTimeoutMs", reason: "must be positive and below redis.commandTimeoutMs")
        }
        try validateRedisTLS()
        if let ticketSecret, ticketSecret.utf8.count < 16 { throw ConfigurationError(key: "tokens.ticketSecret", reason: "must be at least 16 bytes") }
        if let adminKey, adminKey.utf8.count < 16 { throw ConfigurationError(key: "admin.key", reason: "must be at least 16 bytes") }
        if let serviceKey, serviceKey.utf8.count < 16 { throw ConfigurationError(key: "service.key", reason: "must be at least 16 bytes") }
        if !development {
            if signingKeyFiles.isEmpty { throw ConfigurationError(key: "tokens.signingKeyFiles", reason: "required in production") }
            if ticketSecret == nil { throw ConfigurationError(key: "tokens.ticketSecret", reason: "required in production") }
        }
        for (name, settings) in rooms {
            guard RoomName.isValid(name) else { throw ConfigurationError(key: "rooms.\(name)", reason: "invalid room name") }
            do { try settings.validate() } catch { throw ConfigurationError(key: "rooms.\(name).\(error.field)", reason: error.reason) }
        }
    }

    /// TLS settings need a `rediss://` URL; a client certificate needs its key; named files must exist.
    private func validateRedisTLS() throws(ConfigurationError) {
        let files = [("redis.tls.caFile", redisTLSCAFile), ("redis.tls.certFile", redisTLSCertFile), ("redis.tls.keyFile", redisTLSKeyFile)]
        let anySet = files.contains { $0.1 != nil } || redisTLSServerName != nil
        if anySet && !redisURL.hasPrefix("rediss") {
            throw ConfigurationError(key: "redis.tls", reason: "TLS settings need a rediss:// (or rediss-sentinel://, rediss-cluster://) URL (WAITROOM_REDIS_URL)")
        }
        if (redisTLSCertFile == nil) != (redisTLSKeyFile == nil) {
            throw ConfigurationError(key: redisTLSCertFile == nil ? "redis.tls.certFile" : "redis.tls.keyFile", reason: "a client certificate needs both certFile and keyFile")
        }
        for (key, path) in files {
            if let path, !FileManager.default.isReadableFile(atPath: path) {
                throw ConfigurationError(key: key, reason: "cannot read \(path)")
            }
        }
    }
}

/// A configuration value that cannot be used; start-up stops with this message.
public struct ConfigurationError: Error, Sendable, CustomStringConvertible {
    public let key: String
    public let reason: String

    public init(key: String, reason: String) {
        self.key = key
        self.reason = reason
    }

    public var description: String { "configuration error at \(key): \(reason)" }
}

/// `Config/rooms.yaml`: rooms to create at start-up when absent. Each room's fields are read exactly as the
/// admin API reads a PUT body (``RoomSettings/schema``), so the file and the API cannot drift apart.
enum RoomsFile {
    struct File: Decodable {
        var rooms: [String: [String: JSONValue]]
    }

    static func load(_ path: String, now: Date = Date()) throws(ConfigurationError) -> [String: RoomSettings] {
        let file: File
        do {
            file = try YAMLDecoder().decode(File.self, from: try String(contentsOfFile: path, encoding: .utf8))
        } catch {
            throw ConfigurationError(key: path, reason: "\(error)")
        }
        var rooms: [String: RoomSettings] = [:]
        for (name, fields) in file.rooms {
            do {
                rooms[name] = try RoomSettings(json: fields, now: now)
            } catch {
                throw ConfigurationError(key: "rooms.\(name).\(error.field)", reason: error.reason)
            }
        }
        return rooms
    }
}
