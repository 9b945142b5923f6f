import ArgumentParser
import Foundation
import WaitingRoomCore

/// `waitroom room report ROOM`: a drop's totals and series (`GET /admin/v1/rooms/{room}/report`).
struct ReportRoom: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "report", abstract: "A drop's totals and per-second or per-minute series: a table, JSON, CSV, or an HTML page with charts."
    )

    enum Format: String, ExpressibleByArgument, CaseIterable {
        case table, json, csv, html
    }

    @OptionGroup var room: RoomArgument
    @OptionGroup var admin: AdminOptions

    @Option(help: "Start: RFC 3339 or unix seconds (default: the whole retained history).")
    var from: String?

    @Option(help: "End: RFC 3339 or unix seconds (default: now).")
    var to: String?

    @Option(help: "Seconds per row (default: 1 within two hours, else 60).")
    var step: Int?

    @Option(help: "table, json, csv or html (one self-contained file with charts; use --out).")
    var format: Format = .table

    @Option(help: "Write to this file instead of standard output.")
    var out: String?

    func run() async throws {
        var query: [String] = []
        if let from { query.append("from=" + Self.escape(from)) }
        if let to { query.append("to=" + Self.escape(to)) }
        if let step { query.append("step=\(step)") }
        let suffix = query.isEmpty ? "" : "?" + query.joined(separator: "&")
        try await AdminError.reporting {
            let text: String
            switch format {
            case .csv:
                text = String(decoding: try await admin.client().send(.GET, room.path + "/report.csv" + suffix).body, as: UTF8.self)
            case .json:
                text = String(decoding: try await admin.client().send(.GET, room.path + "/report" + suffix).body, as: UTF8.self) + "\n"
            case .table:
                let body = try await admin.client().send(.GET, room.path + "/report" + suffix).body
                text = Self.table(try RoomOutput.decode(RoomReport.self, body), room: room.name)
            case .html:
                let body = try await admin.client().send(.GET, room.path + "/report" + suffix).body
                text = ReportHTML.page(try RoomOutput.decode(RoomReport.self, body), room: room.name)
            }
            if let out {
                try text.write(toFile: out, atomically: true, encoding: .utf8)
            } else {
                print(text, terminator: "")
            }
        }
    }

    static func escape(_ text: String) -> String {
        text.addingPercentEncoding(withAllowedCharacters: .alphanumerics.union(CharacterSet(charactersIn: "-._~:"))) ?? text
    }

    static func table(_ report: RoomReport, room: String) -> String {
        let t = report.totals
        func seconds(_ value: Double?) -> String { value.map { "≤ \(Int($0)) s" } ?? "-" }
        func share(_ value: Double?) -> String { value.map { String(format: "%.1f%%", $0 * 100) } ?? "-" }
        var lines = [
            "room \(room): \(Self.date(report.from)) → \(Self.date(report.to)), step \(report.step) s",
            "arrivals \(t.arrivals)  offers \(t.offers)  claims \(t.claims)  lapsed \(t.lapsed)  releases \(t.releases)  orders \(t.consumed)",
            "peak waiting \(t.peakWaiting)  peak arrivals \(String(format: "%.1f", t.peakArrivalsPerSecond))/s  no-show share \(share(t.noShowShare))  orders per admission \(share(t.ordersPerAdmission))",
            "time in queue: p50 \(seconds(t.waitP50Seconds))  p90 \(seconds(t.waitP90Seconds))  p99 \(seconds(t.waitP99Seconds))",
            "",
            "TIME                  ARRIVALS  OFFERS  CLAIMS  LAPSED  RELEASES  ORDERS  WAITING  ACTIVE  STATE",
        ]
        for row in report.series {
            lines.append(String(
                format: "%@  %8lld  %6lld  %6lld  %6lld  %8lld  %6lld  %7lld  %6lld  %@",
                Self.date(row.t) as NSString, row.arrivals, row.offers, row.claims, row.lapsed, row.releases, row.consumed, row.waiting, row.active,
                row.state as NSString
            ))
        }
        return lines.joined(separator: "\n") + "\n"
    }

    static func date(_ unixSeconds: Int64) -> String {
        Date(timeIntervalSince1970: TimeInterval(unixSeconds)).formatted(.iso8601)
    }
}
