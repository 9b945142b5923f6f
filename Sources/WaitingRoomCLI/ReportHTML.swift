import Foundation
import WaitingRoomCore

/// `waitroom room report --format html`: one self-contained file (inline SVG, no script, no external
/// resource) with the drop's summary and four charts.
enum ReportHTML {
    static func page(_ report: RoomReport, room: String) -> String {
        let t = report.totals
        func seconds(_ value: Double?) -> String { value.map { "≤ \(Int($0)) s" } ?? "–" }
        func share(_ value: Double?) -> String { value.map { String(format: "%.1f%%", $0 * 100) } ?? "–" }
        let summary: [(String, String)] = [
            ("Arrivals", "\(t.arrivals)"), ("Admitted (claims)", "\(t.claims)"), ("Orders", "\(t.consumed)"),
            ("Peak queue", "\(t.peakWaiting)"), ("Peak arrivals", String(format: "%.1f /s", t.peakArrivalsPerSecond)),
            ("Median wait", seconds(t.waitP50Seconds)), ("p90 wait", seconds(t.waitP90Seconds)), ("p99 wait", seconds(t.waitP99Seconds)),
            ("No-show share", share(t.noShowShare)), ("Orders per admission", share(t.ordersPerAdmission)),
        ]
        let times = report.series.map(\.t)
        let perSecond = { (value: Int64) in Double(value) / Double(report.step) }
        let charts = [
            lineChart(
                title: "Arrivals and admissions (per second)", times: times,
                lines: [("arrivals", "#1f5fbf", report.series.map { perSecond($0.arrivals) }), ("offers", "#b3541e", report.series.map { perSecond($0.offers) }),
                        ("claims (entered checkout)", "#2e7d32", report.series.map { perSecond($0.claims) })]
            ),
            lineChart(title: "Queue length (waiting)", times: times, lines: [("waiting", "#6a1b9a", report.series.map { Double($0.waiting) })]),
            histogram(title: "Time in queue (ticket → checkout)", counts: report.waitBuckets ?? [], totals: t),
            lineChart(title: "Show-up ratio (offers claimed)", times: times, lines: [("show-up", "#00695c", report.series.map(\.showUp))], maximum: 1),
        ]
        let rows = summary.map { "<tr><th scope=\"row\">\(HTML.escape($0.0))</th><td>\(HTML.escape($0.1))</td></tr>" }.joined()
        return """
            <!doctype html>
            <html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
            <title>Drop report: \(HTML.escape(room))</title>
            <style>
            body{font-family:system-ui,sans-serif;margin:1.5rem auto;max-width:60rem;padding:0 1rem;color:#1b1b1b}
            h1{font-size:1.6rem}h2{font-size:1.1rem;margin:1.5rem 0 .5rem}table{border-collapse:collapse}
            th,td{text-align:left;padding:.25rem 1rem .25rem 0;border-bottom:1px solid #ddd}svg{width:100%;height:auto}
            .legend span{margin-right:1rem;font-size:.9rem}
            </style></head><body>
            <h1>Drop report: \(HTML.escape(room))</h1>
            <p>\(HTML.escape(date(report.from))) to \(HTML.escape(date(report.to))), one point every \(report.step) s.</p>
            <table>\(rows)</table>
            \(charts.joined(separator: "\n"))
            </body></html>

            """
    }

    static func date(_ unix: Int64) -> String {
        Date(timeIntervalSince1970: TimeInterval(unix)).formatted(.iso8601)
    }

    private static let width = 800.0, height = 240.0, left = 56.0, bottom = 28.0, top = 10.0, right = 10.0

    static func lineChart(title: String, times: [Int64], lines: [(String, String, [Double])], maximum: Double? = nil) -> String {
        let top = maximum ?? max(1, lines.flatMap(\.2).max() ?? 1)
        let first = Double(times.first ?? 0), last = Double(max(times.last ?? 1, (times.first ?? 0) + 1))
        func x(_ t: Int64) -> Double { left + (Double(t) - first) / (last - first) * (width - left - right) }
        func y(_ v: Double) -> Double { Self.top + (1 - min(v, top) / top) * (height - Self.top - bottom) }
        var svg = axes(maxLabel: format(top), from: times.first, to: times.last)
        for (_, color, values) in lines where !values.isEmpty {
            let points = zip(times, values).map { String(format: "%.1f,%.1f", x($0), y($1)) }.joined(separator: " ")
            svg += "<polyline fill=\"none\" stroke=\"\(color)\" stroke-width=\"1.5\" points=\"\(points)\"/>"
        }
        let legend = lines.map { "<span style=\"color:\($0.1)\">■ \(HTML.escape($0.0))</span>" }.joined()
        return "<h2>\(HTML.escape(title))</h2><div class=\"legend\">\(legend)</div>"
            + "<svg viewBox=\"0 0 \(Int(width)) \(Int(height))\" role=\"img\" aria-label=\"\(HTML.escape(title))\">\(svg)</svg>"
    }

    static func histogram(title: String, counts: [Int64], totals: RoomReport.Totals) -> String {
        guard !counts.isEmpty else { return "<h2>\(HTML.escape(title))</h2><p>No minute samples in this range yet.</p>" }
        let labels = WaitBuckets.bounds.map { "< \(label($0))" } + ["≥ \(label(WaitBuckets.bounds.last!))"]
        let top = Double(max(1, counts.max() ?? 1))
        let slot = (width - left - right) / Double(counts.count)
        var svg = axes(maxLabel: format(top), from: nil, to: nil)
        for (index, count) in counts.enumerated() {
            let h = Double(count) / top * (height - Self.top - bottom)
            let x = left + Double(index) * slot
            svg += String(format: "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"#1f5fbf\"/>", x + 4, height - bottom - h, slot - 8, h)
            svg += String(format: "<text x=\"%.1f\" y=\"%.1f\" font-size=\"11\" text-anchor=\"middle\">%@</text>", x + slot / 2, height - 10, HTML.escape(labels[index]))
        }
        let percentiles = "median ≤ \(totals.waitP50Seconds.map { label($0) } ?? "–"), p90 ≤ \(totals.waitP90Seconds.map { label($0) } ?? "–"), p99 ≤ \(totals.waitP99Seconds.map { label($0) } ?? "–")"
        return "<h2>\(HTML.escape(title))</h2><p>\(HTML.escape(percentiles))</p>"
            + "<svg viewBox=\"0 0 \(Int(width)) \(Int(height))\" role=\"img\" aria-label=\"\(HTML.escape(title))\">\(svg)</svg>"
    }

    private static func axes(maxLabel: String, from: Int64?, to: Int64?) -> String {
        var svg = String(format: "<line x1=\"%.0f\" y1=\"%.0f\" x2=\"%.0f\" y2=\"%.0f\" stroke=\"#555\"/>", left, height - bottom, width - right, height - bottom)
        svg += String(format: "<line x1=\"%.0f\" y1=\"%.0f\" x2=\"%.0f\" y2=\"%.0f\" stroke=\"#555\"/>", left, top, left, height - bottom)
        svg += String(format: "<text x=\"%.0f\" y=\"%.0f\" font-size=\"11\" text-anchor=\"end\">%@</text>", left - 4, top + 10, maxLabel)
        svg += String(format: "<text x=\"%.0f\" y=\"%.0f\" font-size=\"11\" text-anchor=\"end\">0</text>", left - 4, height - bottom)
        if let from, let to {
            svg += String(format: "<text x=\"%.0f\" y=\"%.0f\" font-size=\"11\">%@</text>", left, height - 10, HTML.escape(clock(from)))
            svg += String(format: "<text x=\"%.0f\" y=\"%.0f\" font-size=\"11\" text-anchor=\"end\">%@</text>", width - right, height - 10, HTML.escape(clock(to)))
        }
        return svg
    }

    private static func clock(_ unix: Int64) -> String {
        let formatter = DateFormatter()
        formatter.dateFormat = "HH:mm:ss"
        formatter.timeZone = TimeZone(identifier: "UTC")
        return formatter.string(from: Date(timeIntervalSince1970: TimeInterval(unix))) + " UTC"
    }

    private static func label(_ seconds: Double) -> String {
        seconds >= 3600 ? "\(Int(seconds / 3600)) h" : seconds >= 60 ? "\(Int(seconds / 60)) min" : "\(Int(seconds)) s"
    }

    private static func format(_ value: Double) -> String {
        value >= 100 || value.rounded() == value ? String(Int(value.rounded())) : String(format: "%.2f", value)
    }
}
