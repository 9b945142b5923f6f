import AsyncHTTPClient
import Foundation
import Logging
import NIOCore
import ServiceLifecycle
import WaitingRoomCore
import WaitingRoomStore
import WaitingRoomTokens

/// Runs the rate controller of every auto-tuned, open room (``RateController``). Every gate runs one;
/// Redis's clock gives each room's interval to one gate (``RoomStore/beginTuning(room:intervalMs:clockMs:)``),
/// which reads the room's health URL when it has one, decides, and writes the effective rate with its
/// `room.rate_tuned` event. Every gate's tick and claims then run at that rate (the scripts read it from
/// the room hash), and every cache carries it in the snapshot's settings.
struct RateTuner: Service {
    let store: RoomStore
    let cache: RoomCache
    let logger: Logger
    /// How often this gate looks for a due interval (the interval itself is ``RateController/intervalMs``).
    var checkEvery: Duration = .milliseconds(500)
    var intervalMs = RateController.intervalMs

    /// A health URL's answer must come within this.
    static let healthTimeoutMs: Int64 = 1_000
    /// A health URL's answer is at most this big.
    static let healthMaxBytes = 16_384

    static let client: HTTPClient = {
        var configuration = HTTPClient.Configuration()
        configuration.timeout.connect = .milliseconds(healthTimeoutMs)
        configuration.timeout.read = .milliseconds(healthTimeoutMs)
        configuration.redirectConfiguration = .disallow
        return HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
    }()

    func run() async throws {
        var failing = false
        while !Task.isCancelled && !Task.isShuttingDownGracefully {
            do {
                try await tuneDueRooms()
                failing = false
            } catch {
                if !failing { logger.warning("rate tuner cannot reach redis; effective rates hold", metadata: ["error": "\(error)"]) }
                failing = true
            }
            try? await Task.sleep(for: checkEvery)
        }
    }

    /// One pass: every auto-tuned open room this gate knows whose interval is due and not taken.
    /// Returns the decisions this gate made.
    @discardableResult
    func tuneDueRooms(clockMs: Int64? = nil) async throws -> [String: RateController.Decision] {
        var decisions: [String: RateController.Decision] = [:]
        for name in cache.roomNames {
            guard let snapshot = cache.entry(name)?.snapshot, snapshot.settings.autoTune, snapshot.state == .open else { continue }
            guard var interval = try await store.beginTuning(room: name, intervalMs: intervalMs, clockMs: clockMs) else { continue }
            if let url = interval.settings.healthUrl, let fetched = await Self.readHealth(url) {
                if try await store.recordHealth(room: name, fetched, clockMs: interval.nowMs) {
                    interval.input.health = CheckoutHealth(p95Ms: fetched.p95Ms, errorRatio: fetched.errorRatio, inFlight: fetched.inFlight, atMs: interval.nowMs)
                }
            }
            let decision = RateController.decide(interval.input)
            let event = decision.changed ? Self.eventJSON(interval, decision) : nil
            if try await store.applyTuning(room: name, interval, decision: decision, eventJSON: event, clockMs: clockMs) {
                decisions[name] = decision
            }
        }
        return decisions
    }

    /// Reads checkout's health from its URL (bounded time and size); nil when it cannot be read or is not a
    /// valid report (then the signal goes quiet, and the controller holds).
    static func readHealth(_ url: String) async -> CheckoutHealth? {
        var request = HTTPClientRequest(url: url)
        request.headers.add(name: "Accept", value: "application/json")
        request.headers.add(name: "User-Agent", value: "waitroom-tuner")
        do {
            let response = try await client.execute(request, timeout: .milliseconds(healthTimeoutMs))
            guard response.status == .ok else { return nil }
            let body = try await response.body.collect(upTo: healthMaxBytes)
            return try? CheckoutHealth(json: RequestReader.jsonObject(body))
        } catch {
            return nil
        }
    }

    /// `room.rate_tuned`'s data: from, to, why, the bounds and what the decision saw.
    static func eventJSON(_ interval: RoomStore.TuningInterval, _ decision: RateController.Decision) -> String {
        var data: [String: JSONValue] = [
            "from": interval.settings.effectiveRate.map(JSONValue.number) ?? .number(interval.settings.rate),
            "to": .number(decision.effectiveRate),
            "reason": .string(decision.reason.rawValue),
            "targetRate": .number(interval.settings.rate),
            "minRate": .number(interval.settings.minRate),
        ]
        if let health = interval.input.health {
            data["p95Ms"] = .number(Double(health.p95Ms))
            data["errorRatio"] = .number(health.errorRatio)
        }
        if let observed = decision.observed {
            data["consumesPerSecond"] = .number((observed.consumesPerSecond * 100).rounded() / 100)
            if let seconds = observed.checkoutSeconds { data["checkoutSeconds"] = .number((seconds * 100).rounded() / 100) }
        }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return String(decoding: (try? encoder.encode(data)) ?? Data("{}".utf8), as: UTF8.self)
    }
}
