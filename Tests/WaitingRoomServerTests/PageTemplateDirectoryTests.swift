import Foundation
import Logging
import TestSupport
import Testing
import WaitingRoomServer

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
}
