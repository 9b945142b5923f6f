import Foundation
import Logging
import RedisClient
import TestSupport
import Testing
import WaitingRoomCore
import WaitingRoomStore

@Suite("Join group commit", .serialized)
struct JoinCommitterTests {
    @Test("concurrent joins share commits: distinct consecutive places from far fewer script calls than joins")
    func batching() async throws {
        let server = try await TestRedisServer.start()
        let redis = RedisClient(configuration: server.configuration)
        let store = RoomStore(redis: redis)
        try await store.write(room: "batch", settings: RoomSettings(rate: 0, checkoutUrl: "/c"), mode: .createOrReplace)
        let committer = JoinCommitter(store: store, logger: Logger(label: "test"))
        let runner = Task { try await committer.run() }
        defer { runner.cancel() }
        func evalshaCalls() async throws -> Int {
            let stats = try await redis.info("commandstats")
            return stats["cmdstat_evalsha"]?.split(separator: ",").first?.split(separator: "=").last.flatMap { Int($0) } ?? 0
        }
        let before = try await evalshaCalls()
        let joins = 2_000
        let places = try await withThrowingTaskGroup(of: Int64.self) { group in
            for _ in 0..<joins {
                group.addTask {
                    guard case .placed(let seq, _, _) = try await committer.join(room: "batch") else { throw TestSupportError("not placed") }
                    return seq
                }
            }
            return try await group.reduce(into: [Int64]()) { $0.append($1) }
        }
        let calls = try await evalshaCalls() - before
        #expect(Set(places) == Set(1...Int64(joins)), "every join its own place, none skipped")
        #expect(calls <= joins / 10, "\(joins) joins took \(calls) commits: they were not batched")
    }
}
