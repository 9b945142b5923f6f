import ArgumentParser
import Foundation
import Hummingbird
import Logging
import WaitingRoomServer

struct ServeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "serve", abstract: "Run the gate (HTTP front door, admin and service APIs).")

    @Option(help: "Configuration file (default: $WAITROOM_CONFIG or Config/waitroom.yaml).")
    var config: String?

    @Option(help: "Rooms to create at start-up when absent (default: $WAITROOM_ROOMS_FILE or Config/rooms.yaml).")
    var rooms: String?

    func run() async throws {
        let configuration: GateConfiguration
        do {
            configuration = try GateConfiguration.load(file: config, roomsFile: rooms)
        } catch {
            FileHandle.standardError.write(Data("waitroom: \(error)\n".utf8))
            throw ExitCode(78)  // EX_CONFIG
        }
        LoggingSystem.bootstrap { label in
            var handler: any LogHandler = configuration.logFormat == .json
                ? JSONLogHandler(label: label) : StreamLogHandler.standardError(label: label)
            handler.logLevel = configuration.logLevel
            return handler
        }
        let logger = Logger(label: "waitroom")
        // Said first, so a gate started outside the repository (no Config/) does not run on defaults silently.
        logger.notice("\(configuration.sourceDescription)")
        let app = try await GateApplication.build(configuration: configuration, logger: logger)
        logger.info("waitroom listening", metadata: ["address": "\(configuration.httpHost):\(configuration.httpPort)", "rooms": "\(configuration.rooms.keys.sorted())"])
        try await app.runService()
    }
}
