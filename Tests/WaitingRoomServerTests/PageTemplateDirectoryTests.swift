import Foundation
import Logging
import TestSupport
import Testing
import WaitingRoomServer
import WaitingRoomTokens

@Suite("Page templates from a directory", .stopsGates)
struct PageTemplateDirectoryTests {
    func directory(_ template: String) throws -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("templates-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        try template.write(toFile: path + "/wait.html", atomically: true, encoding: .utf8)
        return path
    }

    @Test("a template directory replaces the built-in page, with the same placeholders and strings")
    func customPage() async throws {
        let server = try await TestRedisServer.shared()
        let room = uniqueRoom("tpl")
        var drop = settings(rate: 5)
        drop.displayName = "Acme <Drops>"
        let path = try directory(#"<!doctype html><html lang="{{lang}}"><title>{{title}}</title><h1 class="custom">Our own page: {{heading}}</h1><p>{{t.joining}}</p></html>"#)
        let gate = try await RunningGate.start(redisURL: server.url, rooms: [room: drop]) { $0.templatesDirectory = path }
        let page = try await HTTP.shared.call(.GET, gate.base + "/wait/\(room)", headers: [("Accept-Language", "de")])
        #expect(page.status == 200)
        #expect(page.body.contains(#"<h1 class="custom">Our own page: Acme &lt;Drops&gt;</h1>"#), "\(page.body)")
        #expect(page.body.contains(#"<html lang="de">"#))
    }

    @Test("an unknown placeholder stops the gate at start-up, naming it")
    func unknownPlaceholder() async throws {
        var configuration = GateConfiguration()
        configuration.redisURL = (try await TestRedisServer.shared()).url
        configuration.templatesDirectory = try directory("<p>{{heading}} {{price}}</p>")
        var logger = Logger(label: "test")
        logger.logLevel = .critical
        await #expect {
            _ = try await GateApplication.buildWithGate(configuration: configuration, logger: logger)
        } throws: { error in
            "\(error)".contains("{{price}}")
        }
        #expect(throws: ConfigurationError.self) {
            try GateConfiguration.load(file: nil, roomsFile: nil, environment: ["WAITROOM_TEMPLATES_DIR": "/nonexistent-templates"])
        }
    }

    @Test("the page's CSP allows the template's own scripts, never a script that came in through a setting")
    func policyFromTemplate() async throws {
        let server = try await TestRedisServer.shared()
        let room = uniqueRoom("tplcsp")
        var drop = settings(rate: 5)
        drop.message = "<script>alert(document.cookie)</script>"
        let own = "console.log('shop')"
        let path = try directory("<!doctype html><title>{{title}}</title><div>{{!message}}</div><script>\(own)</script>")
        let gate = try await RunningGate.start(redisURL: server.url, rooms: [room: drop]) { $0.templatesDirectory = path }
        for url in ["/wait/\(room)", "/wait/\(room)?js=0"] {
            let page = try await HTTP.shared.call(.GET, gate.base + url)
            #expect(page.body.contains("<script>alert(document.cookie)</script>"), "the raw placeholder renders the message as it is")
            let csp = try #require(page.headers["Content-Security-Policy"].first)
            #expect(csp.contains("'sha256-\(Self.hash(own))'"), "\(csp)")
            #expect(!csp.contains(Self.hash("alert(document.cookie)")), "the setting's script is allowed: \(csp)")
        }
    }

    @Test("a placeholder inside a script that would run stops the gate at start-up; a JSON data block may hold one")
    func placeholderInScript() async throws {
        var configuration = GateConfiguration()
        configuration.redisURL = (try await TestRedisServer.shared()).url
        configuration.templatesDirectory = try directory(#"<p>{{heading}}</p><script>var room = "{{room}}";</script>"#)
        var logger = Logger(label: "test")
        logger.logLevel = .critical
        await #expect {
            _ = try await GateApplication.buildWithGate(configuration: configuration, logger: logger)
        } throws: { error in
            "\(error)".contains("placeholder inside an inline <script>")
        }
        let room = uniqueRoom("tpldata")
        let path = try directory(#"<p>{{heading}}</p><script type="application/json" id="wr-data">{{!data}}</script>"#)
        let gate = try await RunningGate.start(redisURL: configuration.redisURL, rooms: [room: settings(rate: 1)]) { $0.templatesDirectory = path }
        #expect(try await HTTP.shared.call(.GET, gate.base + "/wait/\(room)").status == 200)
    }

    static func hash(_ script: String) -> String {
        Data(Digest.sha256(Array(script.utf8))).base64EncodedString()
    }
}
