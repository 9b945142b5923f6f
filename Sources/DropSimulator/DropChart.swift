import Foundation
import WaitingRoomCore

/// An SVG chart of a drop (arrivals, waiting, admitted over time) that opens in any browser.
public enum DropChart {
    public static func svg(_ samples: [DropSample], title: String) -> String {
        let width = 900.0, height = 420.0, left = 70.0, right = 20.0, top = 40.0, bottom = 50.0
        let maxT = max(samples.last?.t ?? 1, 1)
        let maxY = Double(max(samples.map { max($0.arrived, $0.admitted, $0.waiting ?? 0) }.max() ?? 1, 1))
        func x(_ t: Double) -> Double { left + t / maxT * (width - left - right) }
        func y(_ v: Double) -> Double { height - bottom - v / maxY * (height - top - bottom) }
        func path(_ value: (DropSample) -> Int?) -> String {
            samples.compactMap { s in value(s).map { String(format: "%.1f,%.1f", x(s.t), y(Double($0))) } }.joined(separator: " ")
        }
        let series: [(String, String, (DropSample) -> Int?)] = [
            ("arrived", "#2b6cb0", { $0.arrived }), ("waiting", "#dd6b20", { $0.waiting }), ("admitted", "#2f855a", { $0.admitted }),
        ]
        var svg = """
            <svg xmlns="http://www.w3.org/2000/svg" width="\(Int(width))" height="\(Int(height))" viewBox="0 0 \(Int(width)) \(Int(height))" font-family="system-ui, sans-serif" font-size="12">
            <rect width="100%" height="100%" fill="white"/>
            <text x="\(left)" y="24" font-size="15" font-weight="600">\(HTML.escape(title))</text>
            <line x1="\(left)" y1="\(height - bottom)" x2="\(width - right)" y2="\(height - bottom)" stroke="#999"/>
            <line x1="\(left)" y1="\(top)" x2="\(left)" y2="\(height - bottom)" stroke="#999"/>
            <text x="\((left + width - right) / 2)" y="\(height - 12)" text-anchor="middle">seconds since the drop started</text>

            """
        for step in 0...4 {
            let value = maxY * Double(step) / 4
            let t = maxT * Double(step) / 4
            svg += String(format: "<text x=\"%.0f\" y=\"%.1f\" text-anchor=\"end\">%.0f</text>\n", left - 6, y(value) + 4, value)
            svg += String(format: "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#eee\"/>\n", left, y(value), width - right, y(value))
            svg += String(format: "<text x=\"%.1f\" y=\"%.0f\" text-anchor=\"middle\">%.0f</text>\n", x(t), height - bottom + 16, t)
        }
        for (index, (name, colour, value)) in series.enumerated() {
            let points = path(value)
            if !points.isEmpty {
                svg += "<polyline fill=\"none\" stroke=\"\(colour)\" stroke-width=\"2\" points=\"\(points)\"/>\n"
            }
            let lx = left + 20 + Double(index) * 110
            svg += "<rect x=\"\(lx)\" y=\"\(top - 4)\" width=\"12\" height=\"3\" fill=\"\(colour)\"/><text x=\"\(lx + 16)\" y=\"\(top)\">\(name)</text>\n"
        }
        return svg + "</svg>\n"
    }
}
