import AsyncHTTPClient
import Foundation
import NIOCore

/// A checkout that can carry only so much, for drops that degrade for real: at most `concurrency` orders
/// at once, each taking `serviceMs` — longer as the checkout fills (contention: at full load twice as
/// long) and `slowFactor` times longer during a slow spell (a database having a bad minute); orders beyond
/// that wait in line, and past `queueLimit` waiting they fail at once (503, the way an overloaded service
/// sheds load). Off (every order at once) when `concurrency` is 0.
actor CheckoutCapacity {
    struct Model: Sendable {
        var concurrency = 0
        var serviceMs = 200
        var queueLimit = 50
        /// The slow spell: from `slowAfterSeconds` after start, for `slowForSeconds`, orders take `slowFactor` times as long.
        var slowAfterSeconds: Double?
        var slowForSeconds = 30.0
        var slowFactor = 3.0
    }

    let model: Model
    private let started = ContinuousClock.now
    private var inFlight = 0
    private var line: [CheckedContinuation<Void, Never>] = []
    /// Finished checkout requests: when, how long (ms), whether they succeeded (the last `windowSeconds`).
    private var finished: [(at: ContinuousClock.Instant, ms: Double, ok: Bool)] = []
    static let windowSeconds = 5.0

    init(_ model: Model) {
        self.model = model
    }

    /// Takes a checkout slot, waiting in line when all are busy; false (and no slot) when the line is full.
    func enter() async -> Bool {
        guard model.concurrency > 0 else { return true }
        if inFlight < model.concurrency {
            inFlight += 1
            return true
        }
        guard line.count < model.queueLimit else { return false }
        await withCheckedContinuation { line.append($0) }  // the slot is handed over by leave()
        return true
    }

    /// Gives the slot back (to the next in line, if any).
    func leave() {
        guard model.concurrency > 0 else { return }
        if line.isEmpty { inFlight -= 1 } else { line.removeFirst().resume() }
    }

    /// How long the order in a slot takes now.
    func serviceTime() -> Duration {
        guard model.concurrency > 0 else { return .zero }
        var ms = Double(model.serviceMs) * (1 + Double(inFlight) / Double(model.concurrency))
        if let after = model.slowAfterSeconds {
            let t = (ContinuousClock.now - started).seconds
            if t >= after && t < after + model.slowForSeconds { ms *= model.slowFactor }
        }
        return .milliseconds(Int(ms))
    }

    func record(ms: Double, ok: Bool) {
        let now = ContinuousClock.now
        finished.append((now, ms, ok))
        let cut = now - .milliseconds(Int(Self.windowSeconds * 1000))
        if let first = finished.firstIndex(where: { $0.at >= cut }), first > 0 { finished.removeFirst(first) }
    }

    /// p95 (ms), error ratio and checkouts in progress over the last few seconds, as the gate's health route takes them.
    func health() -> (p95Ms: Int, errorRatio: Double, inFlight: Int) {
        let cut = ContinuousClock.now - .milliseconds(Int(Self.windowSeconds * 1000))
        let recent = finished.filter { $0.at >= cut }
        let sorted = recent.map(\.ms).sorted()
        let p95 = sorted.isEmpty ? 0 : sorted[min(sorted.count - 1, Int((Double(sorted.count) * 0.95).rounded(.up)) - 1)]
        let errors = recent.isEmpty ? 0 : Double(recent.filter { !$0.ok }.count) / Double(recent.count)
        return (Int(p95.rounded()), errors, inFlight + line.count)
    }

    /// Posts the health to the gate (`POST /v1/rooms/{room}/health`, service key) once a second, for ever.
    func report(to gateURL: String, room: String, serviceKey: String, client: HTTPClient) async {
        while !Task.isCancelled {
            try? await Task.sleep(for: .seconds(1))
            let figures = health()
            var request = HTTPClientRequest(url: gateURL + "/v1/rooms/\(room)/health")
            request.method = .POST
            request.headers.add(name: "Authorization", value: "Bearer \(serviceKey)")
            request.headers.add(name: "Content-Type", value: "application/json")
            request.body = .bytes(ByteBuffer(string: #"{"p95Ms":\#(figures.p95Ms),"errorRatio":\#(figures.errorRatio),"inFlight":\#(figures.inFlight)}"#))
            if let response = try? await client.execute(request, timeout: .seconds(2)) { _ = try? await response.body.collect(upTo: 1 << 16) }
        }
    }
}

extension Duration {
    var seconds: Double { Double(components.seconds) + Double(components.attoseconds) / 1e18 }
}
