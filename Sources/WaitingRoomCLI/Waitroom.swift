import ArgumentParser

/// `waitroom`: the server, ops commands, keys and benchmarks. Kept thin: each subcommand parses its
/// arguments and hands over to the library that does the work.
@main
struct Waitroom: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "waitroom",
        abstract: "A self-hosted virtual waiting room.",
        subcommands: [ServeCommand.self, RoomCommand.self, KeysCommand.self, BenchCommand.self, PlanCommand.self]
    )
}
