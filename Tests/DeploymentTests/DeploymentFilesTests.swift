import Foundation
import Testing
import WaitingRoomCore
import WaitingRoomServer
import Yams

// Keeps Docker/docker-compose.yml, Docker/nginx.conf, Docker/Dockerfile and README.md in step with the code.
// Each check returns the problems it finds; `deploymentFilesAgree` runs every check on the real files, and
// `eachCheckCatchesItsBreakage` breaks a copy of the files in one way per case and expects the matching
// check to notice (so no check can pass vacuously).

// MARK: - Files

/// The repository root: this file is Tests/DeploymentTests/DeploymentFilesTests.swift.
private let repositoryRoot = URL(fileURLWithPath: #filePath)
    .deletingLastPathComponent()
    .deletingLastPathComponent()
    .deletingLastPathComponent()

private func readText(_ relativePath: String) throws -> String {
    try String(contentsOf: repositoryRoot.appendingPathComponent(relativePath), encoding: .utf8)
}

/// The deployment files and the sources they must agree with, as read (compose parsed with Yams).
struct DeploymentFiles {
    var compose: [String: Any]
    var nginx: String
    var dockerfile: String
    /// The variables the gate reads, from its own declaration (``GateConfiguration/settings``).
    var gateVariables: Set<String>
    /// Sources/ExampleOrderService/OrderService.swift: the variables the order service reads.
    var orderSource: String
    /// Sources/WaitingRoomCore/RoomSettings+Schema.swift: the settings and their limits.
    var schemaSource: String
    /// Sources/WaitingRoomCLI/ReportCommand.swift: the report's formats.
    var reportSource: String
    var readme: String

    static let gateServices = ["gate1", "gate2"]
    static let requiredServices = ["redis", "gate1", "gate2", "proxy", "orders"]

    static func load() throws -> DeploymentFiles {
        let composeText = try readText("Docker/docker-compose.yml")
        let compose = try #require(
            yamlMap(try Yams.load(yaml: composeText)), "Docker/docker-compose.yml is not a YAML mapping")
        return DeploymentFiles(
            compose: compose,
            nginx: try readText("Docker/nginx.conf"),
            dockerfile: try readText("Docker/Dockerfile"),
            gateVariables: Set(GateConfiguration.environmentVariables),
            orderSource: try readText("Sources/ExampleOrderService/OrderService.swift"),
            schemaSource: try readText("Sources/WaitingRoomCore/RoomSettings+Schema.swift"),
            reportSource: try readText("Sources/WaitingRoomCLI/ReportCommand.swift"),
            readme: try readText("README.md")
        )
    }

    // MARK: Compose access

    var services: [String: Any] { yamlMap(compose["services"]) ?? [:] }

    func service(_ name: String) -> [String: Any]? { yamlMap(services[name]) }

    /// A service's environment, from either compose form (mapping, or list of `NAME=value`).
    func environment(_ name: String) -> [String: String] { keyValues("environment", of: name) }

    /// A service's labels, from either compose form.
    func labels(_ name: String) -> [String: String] { keyValues("labels", of: name) }

    /// A service's `key` as a mapping or as a list of `NAME=value` (compose accepts both).
    private func keyValues(_ key: String, of name: String) -> [String: String] {
        guard let service = service(name) else { return [:] }
        if let map = yamlMap(service[key]) { return map.mapValues { yamlScalar($0) ?? "" } }
        guard let list = service[key] as? [Any] else { return [:] }
        var result: [String: String] = [:]
        for item in list.compactMap(yamlScalar) {
            let parts = item.split(separator: "=", maxSplits: 1).map(String.init)
            result[parts[0]] = parts.count > 1 ? parts[1] : ""
        }
        return result
    }

    /// Container ports a service publishes (`"host:container"`, `"container"`, or the long form's `target`).
    func publishedContainerPorts(_ name: String) -> [Int] {
        guard let ports = service(name)?["ports"] as? [Any] else { return [] }
        return ports.compactMap { entry -> Int? in
            if let map = yamlMap(entry) { return yamlScalar(map["target"]).flatMap { Int($0) } }
            guard let text = yamlScalar(entry) else { return nil }
            let container = text.split(separator: ":").last.map(String.init) ?? text
            return Int(container.split(separator: "/").first.map(String.init) ?? container)
        }
    }

    /// A service's command or healthcheck test as one string (compose accepts a string or a list).
    static func commandLine(_ value: Any?) -> String? {
        if let list = value as? [Any] { return list.compactMap(yamlScalar).joined(separator: " ") }
        return yamlScalar(value)
    }

    // MARK: Text editing (for the breakage cases)

    mutating func editService(_ name: String, _ edit: (inout [String: Any]) -> Void) throws {
        var all = services
        var service = try #require(yamlMap(all[name]), "no service \(name)")
        edit(&service)
        all[name] = service
        compose["services"] = all
    }

    mutating func editEnvironment(_ name: String, _ edit: (inout [String: String]) -> Void) throws {
        var environment = self.environment(name)
        edit(&environment)
        try editService(name) { $0["environment"] = environment }
    }
}

private func yamlMap(_ value: Any?) -> [String: Any]? {
    if let map = value as? [String: Any] { return map }
    guard let map = value as? [AnyHashable: Any] else { return nil }
    var result: [String: Any] = [:]
    for (key, value) in map {
        guard let key = key.base as? String else { return nil }
        result[key] = value
    }
    return result
}

private func yamlScalar(_ value: Any?) -> String? {
    switch value {
    case let text as String: text
    case let number as Int: String(number)
    case let flag as Bool: String(flag)
    case let number as Double: String(number)
    default: nil
    }
}

/// Replaces `old` with `new`, failing the test when `old` is absent (the breakage would test nothing).
private func replacing(_ old: String, with new: String, in text: inout String) throws {
    try #require(text.contains(old), "the breakage needs \(old.debugDescription) in the file")
    text = text.replacingOccurrences(of: old, with: new)
}

// MARK: - Reading the code and the text files

/// The string literals `"WAITROOM_…"` (or another prefix) in a Swift source: the environment variables it reads.
func variablesRead(prefix: String, in source: String) -> Set<String> {
    var names = Set<String>()
    for match in source.matches(of: #/"([A-Z][A-Z_]*)"/#) {
        let name = String(match.output.1)
        if name.hasPrefix(prefix) && name.count > prefix.count { names.insert(name) }
    }
    return names
}

/// Every `WAITROOM_…` and `ORDER_SERVICE_…` token mentioned in a text (the README).
func variablesMentioned(in text: String) -> Set<String> {
    Set(text.matches(of: #/(?:WAITROOM|ORDER_SERVICE)_[A-Z_]+/#).map { String($0.output) })
}

/// Dockerfile instructions with continuation lines joined and comments dropped: (KEYWORD, arguments).
func dockerfileInstructions(_ text: String) -> [(keyword: String, arguments: String)] {
    var instructions: [(String, String)] = []
    var pending = ""
    for rawLine in text.split(separator: "\n", omittingEmptySubsequences: false) {
        let line = rawLine.trimmingCharacters(in: .whitespaces)
        if line.hasPrefix("#") { continue }
        if line.hasSuffix("\\") {
            pending += line.dropLast() + " "
            continue
        }
        let full = (pending + line).trimmingCharacters(in: .whitespaces)
        pending = ""
        guard !full.isEmpty else { continue }
        let parts = full.split(separator: " ", maxSplits: 1).map(String.init)
        instructions.append((parts[0].uppercased(), parts.count > 1 ? parts[1] : ""))
    }
    return instructions
}

/// nginx.conf without comments.
func nginxDirectives(_ text: String) -> String {
    text.split(separator: "\n", omittingEmptySubsequences: false)
        .map { line in line.split(separator: "#", maxSplits: 1, omittingEmptySubsequences: false).first.map(String.init) ?? "" }
        .joined(separator: "\n")
}

/// The port of the first `http://host:port/path` URL in a text, with its path.
func urlPort(in text: String) -> (port: Int?, path: String)? {
    guard let match = text.firstMatch(of: #/https?://[A-Za-z0-9_.%\-]+(?::(\d+))?(/[^\s"']*)?/#) else { return nil }
    return (match.output.1.flatMap { Int($0) }, match.output.2.map(String.init) ?? "/")
}

// MARK: - Checks

enum DeploymentCheck: String, CaseIterable, Sendable, CustomTestStringConvertible {
    case services
    case environmentNames
    case sharedGateSecrets
    case gatePort
    case orderServicePort
    case redis
    case dockerfile
    case gateDependsOnRedis
    case datadogLabel
    case readmeNamesGateVariables
    case readmeNamesOrderServiceVariables
    case readmeNamesHookTypes
    case readmeNamesTextLimits
    case readmeNamesReportFormats

    var testDescription: String { rawValue }

    func problems(_ files: DeploymentFiles) -> [String] {
        switch self {
        case .services: Self.services(files)
        case .environmentNames: Self.environmentNames(files)
        case .sharedGateSecrets: Self.sharedGateSecrets(files)
        case .gatePort: Self.gatePort(files)
        case .orderServicePort: Self.orderServicePort(files)
        case .redis: Self.redis(files)
        case .dockerfile: Self.dockerfile(files)
        case .gateDependsOnRedis: Self.gateDependsOnRedis(files)
        case .datadogLabel: Self.datadogLabel(files)
        case .readmeNamesGateVariables: Self.readmeNamesGateVariables(files)
        case .readmeNamesOrderServiceVariables: Self.readmeNamesOrderServiceVariables(files)
        case .readmeNamesHookTypes: Self.readmeNamesHookTypes(files)
        case .readmeNamesTextLimits: Self.readmeNamesTextLimits(files)
        case .readmeNamesReportFormats: Self.readmeNamesReportFormats(files)
        }
    }

    static func services(_ files: DeploymentFiles) -> [String] {
        DeploymentFiles.requiredServices.filter { files.service($0) == nil }.map { "compose has no service \($0)" }
    }

    /// Every WAITROOM_* / ORDER_SERVICE_* name set in compose is read by the program that service runs.
    static func environmentNames(_ files: DeploymentFiles) -> [String] {
        let gateReads = files.gateVariables
        let orderReads = variablesRead(prefix: "WAITROOM_", in: files.orderSource)
            .union(variablesRead(prefix: "ORDER_SERVICE_", in: files.orderSource))
        var problems: [String] = []
        if gateReads.isEmpty { problems.append("GateConfiguration declares no setting") }
        if orderReads.isEmpty { problems.append("found no WAITROOM_*/ORDER_SERVICE_* literal in OrderService.swift") }
        let allReads = gateReads.union(orderReads)
        for name in files.services.keys.sorted() {
            let names = files.environment(name).keys.filter { $0.hasPrefix("WAITROOM_") || $0.hasPrefix("ORDER_SERVICE_") }
            let readsHere: Set<String> =
                DeploymentFiles.gateServices.contains(name) ? gateReads : name == "orders" ? orderReads : allReads
            for variable in names.sorted() where !readsHere.contains(variable) {
                problems.append("\(name) sets \(variable), which its program does not read")
            }
        }
        for gate in DeploymentFiles.gateServices where files.environment(gate).isEmpty {
            problems.append("\(gate) sets no environment")
        }
        if files.environment("orders").isEmpty { problems.append("orders sets no environment") }
        return problems
    }

    /// In production the gates need a signing key and a ticket secret, and every gate must use the same ones.
    static func sharedGateSecrets(_ files: DeploymentFiles) -> [String] {
        var problems: [String] = []
        let shared = ["WAITROOM_SIGNING_KEY_FILE", "WAITROOM_TICKET_SECRET"]
        for gate in DeploymentFiles.gateServices where files.environment(gate)["WAITROOM_ENV"] == "production" {
            for variable in shared where (files.environment(gate)[variable] ?? "").isEmpty {
                problems.append("\(gate) runs in production without \(variable)")
            }
        }
        for variable in shared {
            let values = Set(DeploymentFiles.gateServices.map { files.environment($0)[variable] ?? "" })
            if values.count > 1 { problems.append("the gates differ in \(variable): \(values.sorted())") }
        }
        return problems
    }

    /// WAITROOM_HTTP_PORT = nginx upstream port = Dockerfile EXPOSE = Dockerfile HEALTHCHECK port; and the
    /// proxy publishes the port nginx listens on.
    static func gatePort(_ files: DeploymentFiles) -> [String] {
        var problems: [String] = []
        var ports = Set<Int>()
        for gate in DeploymentFiles.gateServices {
            guard let text = files.environment(gate)["WAITROOM_HTTP_PORT"], let port = Int(text) else {
                problems.append("\(gate) sets no integer WAITROOM_HTTP_PORT")
                continue
            }
            ports.insert(port)
        }
        guard ports.count == 1, let port = ports.first else {
            return problems + (ports.count > 1 ? ["the gates listen on different ports: \(ports.sorted())"] : [])
        }

        let nginx = nginxDirectives(files.nginx)
        var upstreams: [String: Int] = [:]
        for match in nginx.matches(of: #/server\s+([A-Za-z0-9_.\-]+):(\d+)/#) {
            upstreams[String(match.output.1)] = Int(match.output.2)
        }
        for gate in DeploymentFiles.gateServices {
            switch upstreams[gate] {
            case nil: problems.append("nginx.conf has no `server \(gate):\(port)`")
            case let upstream? where upstream != port:
                problems.append("nginx.conf proxies to \(gate):\(upstream), the gate listens on \(port)")
            default: break
            }
        }
        for host in upstreams.keys where files.service(host) == nil {
            problems.append("nginx.conf proxies to \(host), which is no compose service")
        }
        let listens = nginx.matches(of: #/listen\s+(\d+)/#).compactMap { Int($0.output.1) }
        let published = files.publishedContainerPorts("proxy")
        if listens.isEmpty { problems.append("nginx.conf has no `listen PORT`") }
        for listen in listens where !published.contains(listen) {
            problems.append("nginx listens on \(listen), the proxy publishes container ports \(published)")
        }

        let instructions = dockerfileInstructions(files.dockerfile)
        let exposed = instructions.filter { $0.keyword == "EXPOSE" }
            .flatMap { $0.arguments.split(separator: " ") }
            .compactMap { Int($0.split(separator: "/").first ?? "") }
        if !exposed.contains(port) { problems.append("the Dockerfile EXPOSEs \(exposed), the gate listens on \(port)") }
        let healthchecks = instructions.filter { $0.keyword == "HEALTHCHECK" }
        if healthchecks.isEmpty { problems.append("the Dockerfile has no HEALTHCHECK") }
        for healthcheck in healthchecks {
            let probed = urlPort(in: healthcheck.arguments)?.port
            if probed != port {
                problems.append("the Dockerfile HEALTHCHECK probes port \(probed.map(String.init) ?? "80 (none given)"), the gate listens on \(port)")
            }
        }
        return problems
    }

    /// ORDER_SERVICE_PORT is the container port that compose publishes (and that its healthcheck probes).
    static func orderServicePort(_ files: DeploymentFiles) -> [String] {
        guard let text = files.environment("orders")["ORDER_SERVICE_PORT"], let port = Int(text) else {
            return ["orders sets no integer ORDER_SERVICE_PORT"]
        }
        var problems: [String] = []
        let published = files.publishedContainerPorts("orders")
        if !published.contains(port) {
            problems.append("orders listens on \(port), compose publishes container ports \(published)")
        }
        if let healthcheck = yamlMap(files.service("orders")?["healthcheck"]),
            let test = DeploymentFiles.commandLine(healthcheck["test"]),
            let probed = urlPort(in: test), probed.port != port
        {
            problems.append("the orders healthcheck probes port \(probed.port.map(String.init) ?? "80"), it listens on \(port)")
        }
        return problems
    }

    static func redis(_ files: DeploymentFiles) -> [String] {
        guard let redis = files.service("redis") else { return ["compose has no service redis"] }
        var problems: [String] = []
        let command = DeploymentFiles.commandLine(redis["command"]) ?? ""
        if !command.contains("--appendonly yes") {
            problems.append("redis does not run with --appendonly yes (command: \(command.debugDescription))")
        }
        let healthcheck = yamlMap(redis["healthcheck"])
        let test = DeploymentFiles.commandLine(healthcheck?["test"]) ?? ""
        if healthcheck == nil || test.isEmpty || yamlScalar(healthcheck?["disable"]) == "true" {
            problems.append("redis has no healthcheck")
        } else if test.hasPrefix("NONE") {
            problems.append("redis's healthcheck is disabled")
        }
        return problems
    }

    /// Two stages, a non-root USER in the final one, a HEALTHCHECK on /healthz.
    static func dockerfile(_ files: DeploymentFiles) -> [String] {
        let instructions = dockerfileInstructions(files.dockerfile)
        var problems: [String] = []
        let stages = instructions.filter { $0.keyword == "FROM" }.count
        if stages != 2 { problems.append("the Dockerfile has \(stages) FROM stages, not 2") }
        let finalStage = instructions.split(whereSeparator: { $0.keyword == "FROM" }).last.map(Array.init) ?? []
        let user = finalStage.last(where: { $0.keyword == "USER" })?.arguments.trimmingCharacters(in: .whitespaces)
        let userName = user?.split(separator: ":").first.map(String.init)
        switch userName {
        case nil: problems.append("the final stage has no USER (runs as root)")
        case "root", "0": problems.append("the final stage runs as \(user!)")
        default: break
        }
        let healthchecks = instructions.filter { $0.keyword == "HEALTHCHECK" }
        if !healthchecks.contains(where: { urlPort(in: $0.arguments)?.path == "/healthz" }) {
            problems.append("the Dockerfile HEALTHCHECK does not request /healthz")
        }
        return problems
    }

    static func gateDependsOnRedis(_ files: DeploymentFiles) -> [String] {
        DeploymentFiles.gateServices.compactMap { gate in
            let dependsOn = yamlMap(files.service(gate)?["depends_on"])
            let condition = yamlScalar(yamlMap(dependsOn?["redis"])?["condition"])
            return condition == "service_healthy" ? nil : "\(gate) does not depend on redis with condition: service_healthy"
        }
    }

    /// The Datadog autodiscovery label scrapes /metrics on the port the gate listens on.
    static func datadogLabel(_ files: DeploymentFiles) -> [String] {
        var problems: [String] = []
        for gate in DeploymentFiles.gateServices {
            guard let json = files.labels(gate)["com.datadoghq.ad.checks"] else {
                problems.append("\(gate) has no com.datadoghq.ad.checks label")
                continue
            }
            guard let object = try? JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any],
                let openmetrics = object["openmetrics"] as? [String: Any],
                let instances = openmetrics["instances"] as? [[String: Any]], !instances.isEmpty
            else {
                problems.append("\(gate)'s com.datadoghq.ad.checks is not {\"openmetrics\": {\"instances\": [...]}} JSON")
                continue
            }
            let port = files.environment(gate)["WAITROOM_HTTP_PORT"].flatMap { Int($0) }
            for instance in instances {
                let endpoint = instance["openmetrics_endpoint"] as? String ?? ""
                guard let url = urlPort(in: endpoint), url.port == port, url.path == "/metrics" else {
                    problems.append("\(gate)'s openmetrics_endpoint \(endpoint.debugDescription) is not /metrics on port \(port.map(String.init) ?? "?")")
                    continue
                }
                if instance["namespace"] as? String != "waitroom" { problems.append("\(gate)'s OpenMetrics namespace is not waitroom") }
                if (instance["metrics"] as? [String])?.isEmpty ?? true { problems.append("\(gate)'s OpenMetrics check selects no metrics") }
            }
        }
        return problems
    }

    static func readmeNamesGateVariables(_ files: DeploymentFiles) -> [String] {
        let read = files.gateVariables
        if read.isEmpty { return ["GateConfiguration declares no setting"] }
        let missing = read.subtracting(variablesMentioned(in: files.readme))
        return missing.sorted().map { "README.md does not mention \($0)" }
    }

    /// The example order service's variables are documented (they were only in its source and run-dev.sh).
    static func readmeNamesOrderServiceVariables(_ files: DeploymentFiles) -> [String] {
        let read = variablesRead(prefix: "WAITROOM_", in: files.orderSource).union(variablesRead(prefix: "ORDER_SERVICE_", in: files.orderSource))
        if read.isEmpty { return ["found no variable literal in OrderService.swift"] }
        return read.subtracting(variablesMentioned(in: files.readme)).sorted().map { "README.md does not mention \($0)" }
    }

    /// The README's list of the types a hook may take is exactly ``RoomEvent/hookTypes``, and it names
    /// every type the stream carries.
    static func readmeNamesHookTypes(_ files: DeploymentFiles) -> [String] {
        guard let start = files.readme.range(of: "A hook may subscribe to"), let end = files.readme[start.upperBound...].range(of: ". ") else {
            return ["README.md does not say which types a hook may subscribe to (\"A hook may subscribe to …\")"]
        }
        let listed = Set(files.readme[start.upperBound..<end.lowerBound].matches(of: #/`(room\.[a-z_]+)`/#).map { String($0.output.1) })
        var problems: [String] = []
        if listed != Set(RoomEvent.hookTypes) { problems.append("README.md lists \(listed.sorted()) for hooks, the code takes \(RoomEvent.hookTypes.sorted())") }
        if !files.readme.contains("the \(RoomEvent.hookTypes.count) types") { problems.append("README.md does not count the \(RoomEvent.hookTypes.count) hook types") }
        for type in RoomEvent.hookTypes + RoomEvent.streamTypes where !files.readme.contains("`\(type)`") {
            problems.append("README.md does not name the event type \(type)")
        }
        return problems
    }

    /// Every text setting with a length limit in the schema has it in the README, next to its name.
    static func readmeNamesTextLimits(_ files: DeploymentFiles) -> [String] {
        let limits = files.schemaSource.matches(of: #/\.text\("([A-Za-z]+)".*maxLength: (\d+)/#).map { (String($0.output.1), String($0.output.2)) }
        if limits.isEmpty { return ["found no text setting with maxLength in RoomSettings+Schema.swift"] }
        return limits.compactMap { name, limit in
            guard let at = files.readme.range(of: "`\(name)` (") else { return "README.md does not describe `\(name)` (…)" }
            let after = files.readme[at.upperBound...].prefix(120)
            return after.contains("≤ \(limit) characters") ? nil : "README.md does not give \(name)'s limit (≤ \(limit) characters)"
        }
    }

    /// `room report --format` takes what the README says it takes.
    static func readmeNamesReportFormats(_ files: DeploymentFiles) -> [String] {
        guard let match = files.reportSource.firstMatch(of: #/enum Format[^{]*\{\s*case ([a-z, ]+)\n/#) else {
            return ["found no `enum Format { case … }` in ReportCommand.swift"]
        }
        let formats = match.output.1.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
        let usage = "--format " + formats.joined(separator: "|")
        return files.readme.contains(usage) ? [] : ["README.md does not show `\(usage)`"]
    }
}

// MARK: - Tests

@Suite("Deployment files")
struct DeploymentFilesTests {
    @Test("the deployment files agree with the code", arguments: DeploymentCheck.allCases.filter { $0 != .readmeNamesGateVariables })
    func deploymentFilesAgree(_ check: DeploymentCheck) throws {
        let files = try DeploymentFiles.load()
        #expect(check.problems(files) == [])
    }

    @Test("README.md mentions every WAITROOM_* variable GateConfiguration reads")
    func readmeMentionsEveryGateVariable() throws {
        let files = try DeploymentFiles.load()
        #expect(DeploymentCheck.readmeNamesGateVariables.problems(files) == [])
    }

    /// One way to break the files, and the check that must notice.
    enum Breakage: String, CaseIterable, Sendable, CustomTestStringConvertible {
        case missingService, renamedGateVariable, renamedOrderVariable, orderVariableOnGate, gateStopsReadingVariable
        case gatesDisagreeOnTicketSecret, productionWithoutSigningKey
        case gatePortChanged, nginxPortChanged, exposeChanged, healthcheckPortChanged, proxyPublishesWrongPort
        case orderPortChanged, orderPublishesWrongPort
        case appendOnlyOff, redisWithoutHealthcheck
        case singleStage, runsAsRoot, noUser, healthcheckPath
        case dependsOnRedisStarted
        case datadogWrongPort, datadogMissing
        case readmeDropsVariable, gateReadsUndocumentedVariable
        case orderServiceReadsUndocumentedVariable, readmeDropsHookType, hookTypeAdded, readmeDropsTextLimit, reportFormatAdded

        var testDescription: String { rawValue }

        var check: DeploymentCheck {
            switch self {
            case .missingService: .services
            case .renamedGateVariable, .renamedOrderVariable, .orderVariableOnGate, .gateStopsReadingVariable: .environmentNames
            case .gatesDisagreeOnTicketSecret, .productionWithoutSigningKey: .sharedGateSecrets
            case .gatePortChanged, .nginxPortChanged, .exposeChanged, .healthcheckPortChanged, .proxyPublishesWrongPort: .gatePort
            case .orderPortChanged, .orderPublishesWrongPort: .orderServicePort
            case .appendOnlyOff, .redisWithoutHealthcheck: .redis
            case .singleStage, .runsAsRoot, .noUser, .healthcheckPath: .dockerfile
            case .dependsOnRedisStarted: .gateDependsOnRedis
            case .datadogWrongPort, .datadogMissing: .datadogLabel
            case .readmeDropsVariable, .gateReadsUndocumentedVariable: .readmeNamesGateVariables
            case .orderServiceReadsUndocumentedVariable: .readmeNamesOrderServiceVariables
            case .readmeDropsHookType, .hookTypeAdded: .readmeNamesHookTypes
            case .readmeDropsTextLimit: .readmeNamesTextLimits
            case .reportFormatAdded: .readmeNamesReportFormats
            }
        }

        func apply(to files: inout DeploymentFiles) throws {
            switch self {
            case .missingService:
                var services = files.services
                services["proxy"] = nil
                files.compose["services"] = services
            case .renamedGateVariable:
                try files.editEnvironment("gate2") {
                    let value = $0.removeValue(forKey: "WAITROOM_REDIS_URL")
                    $0["WAITROOM_REDIS_URI"] = value ?? "redis://redis:6379"
                }
            case .renamedOrderVariable:
                try files.editEnvironment("orders") {
                    let value = $0.removeValue(forKey: "ORDER_SERVICE_HOST")
                    $0["ORDER_SERVICE_BIND"] = value ?? "0.0.0.0"
                }
            case .orderVariableOnGate:
                try files.editEnvironment("gate1") { $0["WAITROOM_URL"] = "http://proxy" }
            case .gateStopsReadingVariable:
                #expect(files.gateVariables.remove("WAITROOM_LOG_FORMAT") != nil)
                files.gateVariables.insert("WAITROOM_LOGGING_FORMAT")
            case .gatesDisagreeOnTicketSecret:
                try files.editEnvironment("gate2") { $0["WAITROOM_TICKET_SECRET"] = "${GATE2_TICKET_SECRET}" }
            case .productionWithoutSigningKey:
                for gate in DeploymentFiles.gateServices {
                    try files.editEnvironment(gate) { $0["WAITROOM_SIGNING_KEY_FILE"] = nil }
                }
            case .gatePortChanged:
                for gate in DeploymentFiles.gateServices {
                    try files.editEnvironment(gate) { $0["WAITROOM_HTTP_PORT"] = "9090" }
                }
            case .nginxPortChanged:
                try replacing("server gate2:8080", with: "server gate2:9090", in: &files.nginx)
            case .exposeChanged:
                try replacing("EXPOSE 8080", with: "EXPOSE 9090", in: &files.dockerfile)
            case .healthcheckPortChanged:
                try replacing("http://127.0.0.1:8080/healthz", with: "http://127.0.0.1:9090/healthz", in: &files.dockerfile)
            case .proxyPublishesWrongPort:
                try files.editService("proxy") { $0["ports"] = ["8080:8080"] }
            case .orderPortChanged:
                try files.editEnvironment("orders") { $0["ORDER_SERVICE_PORT"] = "9091" }
            case .orderPublishesWrongPort:
                try files.editService("orders") { $0["ports"] = ["8081:9091"] }
            case .appendOnlyOff:
                try files.editService("redis") { $0["command"] = ["redis-server", "--appendonly", "no"] }
            case .redisWithoutHealthcheck:
                try files.editService("redis") { $0["healthcheck"] = nil }
            case .singleStage:
                try replacing("FROM debian:bookworm-slim", with: "# FROM debian:bookworm-slim", in: &files.dockerfile)
            case .runsAsRoot:
                try replacing("USER waitroom", with: "USER root", in: &files.dockerfile)
            case .noUser:
                try replacing("USER waitroom", with: "# USER waitroom", in: &files.dockerfile)
            case .healthcheckPath:
                try replacing("8080/healthz", with: "8080/livez", in: &files.dockerfile)
            case .dependsOnRedisStarted:
                try files.editService("gate1") { $0["depends_on"] = ["redis"] }
            case .datadogWrongPort:
                try files.editService("gate2") {
                    $0["labels"] = [
                        "com.datadoghq.ad.checks":
                            #"{"openmetrics": {"instances": [{"openmetrics_endpoint": "http://%%host%%:9090/metrics", "namespace": "waitroom", "metrics": [".*"]}]}}"#
                    ]
                }
            case .datadogMissing:
                try files.editService("gate1") { $0["labels"] = nil }
            case .readmeDropsVariable:
                try replacing("WAITROOM_REDIS_TIMEOUT_MS", with: "the Redis timeout", in: &files.readme)
            case .gateReadsUndocumentedVariable:
                files.gateVariables.insert("WAITROOM_NOT_IN_THE_README")
            case .orderServiceReadsUndocumentedVariable:
                files.orderSource += "\nlet undocumented = environment[\"ORDER_SERVICE_NOT_IN_THE_README\"]\n"
            case .readmeDropsHookType:
                try replacing("`room.queue_drained`, `room.queue_above`. The other", with: "`room.queue_drained`. The other", in: &files.readme)
            case .hookTypeAdded:
                try replacing("A hook may subscribe to", with: "A hook may subscribe to `room.minute` and", in: &files.readme)
            case .readmeDropsTextLimit:
                try replacing("≤ 80 characters", with: "short", in: &files.readme)
            case .reportFormatAdded:
                try replacing("case table, json, csv, html", with: "case table, json, csv, html, pdf", in: &files.reportSource)
            }
        }
    }

    @Test("each check catches its breakage", arguments: Breakage.allCases)
    func eachCheckCatchesItsBreakage(_ breakage: Breakage) throws {
        var files = try DeploymentFiles.load()
        #expect(breakage.check.problems(files) == [], "the unbroken files must pass \(breakage.check)")
        try breakage.apply(to: &files)
        let problems = breakage.check.problems(files)
        #expect(!problems.isEmpty, "\(breakage.check) did not notice \(breakage)")
    }

    @Test("the code-reading regexes find the variables")
    func variableExtraction() {
        let source = #"""
            let a = environment["WAITROOM_HTTP_PORT"] ?? "8080"
            // `WAITROOM_IN_A_COMMENT` is not read
            let b = environment["ORDER_SERVICE_PORT"]
            throw ConfigurationError(key: "WAITROOM_LOG_FORMAT", reason: "x")
            """#
        #expect(variablesRead(prefix: "WAITROOM_", in: source) == ["WAITROOM_HTTP_PORT", "WAITROOM_LOG_FORMAT"])
        #expect(variablesRead(prefix: "ORDER_SERVICE_", in: source) == ["ORDER_SERVICE_PORT"])
        #expect(variablesMentioned(in: "`WAITROOM_ENV=production`, WAITROOM_HTTP_HOST.") == ["WAITROOM_ENV", "WAITROOM_HTTP_HOST"])
    }
}
