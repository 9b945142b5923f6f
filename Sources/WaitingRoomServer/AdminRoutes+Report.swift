import Foundation
import Hummingbird
import NIOCore
import WaitingRoomCore
import WaitingRoomStore

/// `GET /admin/v1/rooms/{room}/report[.csv]?from=&to=&step=`: a drop's totals and series from the samples
/// the tick keeps in Redis (seconds for 2 h, minutes for 14 days).
extension AdminRoutes {
    /// Most rows one report may have (a step too small for the range is a 400, not a huge answer).
    static let maximumReportRows: Int64 = 20_000

    func addReport(to admin: RouterGroup<BasicRequestContext>) {
        admin.get("/rooms/:room/report") { request, context in
            try Responses.encode(try await self.report(request, context))
        }
        admin.get("/rooms/:room/report.csv") { request, context in
            let report = try await self.report(request, context)
            return Response(
                status: .ok, headers: [.contentType: "text/csv; charset=utf-8", .cacheControl: "no-store"],
                body: .init(byteBuffer: ByteBuffer(string: report.csv))
            )
        }
    }

    func report(_ request: Request, _ context: BasicRequestContext) async throws -> RoomReport {
        let name = try RequestReader.roomName(context)
        let query = request.uri.queryParameters
        let now = Int64(Date().timeIntervalSince1970)
        let from = try Self.time(query["from"].map(String.init), field: "from")
        let to = try Self.time(query["to"].map(String.init), field: "to") ?? now + 1
        if let from, from >= to { throw APIError.badRequest("from must be before to", code: "invalid_range") }
        var step: Int64?
        if let text = query["step"] {
            guard let value = Int64(text), (1...86_400).contains(value) else { throw APIError.badRequest("step: seconds, 1...86400", code: "invalid_step") }
            step = value
        }
        do {
            guard try await store.settings(room: name) != nil else { throw APIError.notFound("no such room") }
            // The whole retained history by default. The step is checked before anything is read, and only
            // the resolution it needs is read in full (the minutes' ends give the time-in-queue buckets).
            var start = from ?? now
            if from == nil {
                let first = [try await store.firstSampleTime(room: name, .minutes), try await store.firstSampleTime(room: name, .seconds)]
                start = first.compactMap { $0 }.min() ?? now
            }
            start = min(start, to - 1)
            // Without a step: seconds within two hours, else the smallest of a minute, 5 minutes, an hour or a
            // day that keeps the report within its row limit.
            let chosenStep = step ?? ([1, 60, 300, 3_600, 86_400] as [Int64]).first { candidate in
                (candidate >= 60 || to - start <= 7_200) && (to - start) / candidate <= Self.maximumReportRows
            } ?? 86_400
            guard (to - start) / chosenStep <= Self.maximumReportRows else {
                throw APIError.badRequest("step too small for the range (at most \(Self.maximumReportRows) rows)", code: "invalid_step")
            }
            let main = try await store.series(room: name, chosenStep < 60 ? .seconds : .minutes, from: start, to: to)
            let minutes = try await store.seriesEnds(room: name, .minutes, from: start, to: to)
            var report = RoomReport(
                samples: main.samples, baseline: from == nil ? nil : main.baseline, from: start, to: to, step: chosenStep,
                minuteSamples: minutes.last.map { [$0] } ?? [], minuteBaseline: from == nil ? nil : minutes.baseline
            )
            // The auto-tuned rate's moves (the stream keeps about 10,000 events of every type).
            let tuned = try await store.events(room: name, type: "room.rate_tuned", fromMs: start * 1000, toMs: to * 1000)
            let changes = tuned.compactMap { RoomReport.RateChange(atMs: $0.atMs, dataJSON: $0.data) }
            if !changes.isEmpty { report.rateChanges = changes }
            return report
        } catch let error as StoreError {
            throw failures.response(for: error)
        }
    }

    /// RFC 3339 or unix seconds.
    static func time(_ text: String?, field: String) throws(APIError) -> Int64? {
        guard let text, !text.isEmpty else { return nil }
        if let seconds = Int64(text), (0...32_503_680_000).contains(seconds) { return seconds }
        if let date = try? Date(text, strategy: .iso8601), abs(date.timeIntervalSince1970) < 32_503_680_000 {
            return Int64(date.timeIntervalSince1970)
        }
        throw APIError.badRequest("\(field): RFC 3339 or unix seconds", code: "invalid_\(field)")
    }
}
