import ArgumentParser

struct BenchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Benchmarks: the Redis client, the HTTP hot paths and a simulated drop.",
        subcommands: [BenchDrop.self, BenchHTTP.self, BenchRedis.self, BenchVerify.self]
    )
}
