/// The page frame every report shares: inline CSS, a sortable-table script, and plotly.js linked
/// from the results folder. Nothing is fetched from the network.
module Mnist.Experiments.Reports.Html

open System
open System.Globalization
open System.Net
open System.Text
open Plotly.NET

let esc (text: string) = WebUtility.HtmlEncode(if isNull text then "" else text)
let inv (format: string) (value: float) = value.ToString(format, CultureInfo.InvariantCulture)
let pct (value: float) = inv "F2" (value * 100.0) + "%"
let optPct = function Some v -> pct v | None -> "—"
let attr (value: float) = value.ToString("R", CultureInfo.InvariantCulture)

/// A Plotly.NET chart as an HTML fragment (a div and the script that draws it).
let chart (c: GenericChart) = GenericChart.toChartHTML c

let private style =
    """
    body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; margin: 24px auto; max-width: 1280px; padding: 0 16px; color: #1f2933; }
    h1 { font-size: 22px; margin-bottom: 4px; } h2 { font-size: 17px; margin-top: 28px; border-bottom: 1px solid #e4e7eb; padding-bottom: 4px; }
    .sub { color: #52606d; margin-top: 0; } a { color: #0b63ce; text-decoration: none; } a:hover { text-decoration: underline; }
    table { border-collapse: collapse; font-variant-numeric: tabular-nums; margin: 8px 0; }
    th, td { padding: 4px 9px; border-bottom: 1px solid #e4e7eb; text-align: right; white-space: nowrap; }
    th { background: #f5f7fa; position: sticky; top: 0; } th.text, td.text { text-align: left; }
    table.sortable th { cursor: pointer; user-select: none; } table.sortable th:hover { background: #e4e7eb; }
    th.asc::after { content: " ▲"; } th.desc::after { content: " ▼"; }
    tr.best td { background: #fff3c4; font-weight: 600; }
    .scroll { overflow-x: auto; max-width: 100%; }
    .charts { display: flex; flex-wrap: wrap; gap: 12px; } .note { color: #52606d; font-size: 13px; max-width: 900px; }
    .callout { background: #fff3c4; border-left: 4px solid #f0b429; padding: 8px 12px; margin: 12px 0; }
    .grid { display: flex; flex-wrap: wrap; gap: 10px; } figure { margin: 0; text-align: center; font-size: 12px; color: #52606d; }
    figure img { width: 84px; height: 84px; image-rendering: pixelated; border: 1px solid #cbd2d9; display: block; }
    dl.spec { display: grid; grid-template-columns: max-content auto; gap: 2px 14px; } dl.spec dt { color: #52606d; } dl.spec dd { margin: 0; }
    """

/// Click a header to sort by it (again to reverse); cells sort by data-v when present.
let private sortScript =
    """
    document.querySelectorAll('table.sortable').forEach(function (table) {
      table.querySelectorAll('th').forEach(function (th, col) {
        th.addEventListener('click', function () {
          var body = table.tBodies[0], rows = Array.prototype.slice.call(body.rows);
          var asc = !th.classList.contains('asc');
          table.querySelectorAll('th').forEach(function (h) { h.classList.remove('asc', 'desc'); });
          th.classList.add(asc ? 'asc' : 'desc');
          rows.sort(function (a, b) {
            var x = a.cells[col].getAttribute('data-v'), y = b.cells[col].getAttribute('data-v');
            if (x === null) x = a.cells[col].textContent; if (y === null) y = b.cells[col].textContent;
            var nx = parseFloat(x), ny = parseFloat(y), r;
            if (!isNaN(nx) && !isNaN(ny)) r = nx - ny; else r = String(x).localeCompare(String(y));
            return asc ? r : -r;
          });
          rows.forEach(function (r) { body.appendChild(r); });
        });
      });
    });
    """

/// A complete page; <paramref name="plotlySrc"/> is the relative address of plotly.min.js.
let page (title: string) (plotlySrc: string) (body: string) =
    let html = StringBuilder()
    html.Append("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n")
        .Append("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n")
        .Append("<title>").Append(esc title).Append("</title>\n")
        .Append("<style>").Append(style).Append("</style>\n")
        .Append("<script src=\"").Append(esc plotlySrc).Append("\"></script>\n")
        .Append("</head>\n<body>\n")
        .Append(body)
        .Append("\n<script>").Append(sortScript).Append("</script>\n</body>\n</html>\n")
    |> ignore
    html.ToString()

/// A table cell: its text, an optional sort value, and whether it is text (left-aligned).
type Cell =
    { Html: string; Sort: string option; IsText: bool }

let text (s: string) = { Html = esc s; Sort = None; IsText = true }
let raw (html: string) (sortKey: string) = { Html = html; Sort = Some sortKey; IsText = true }
let number (shown: string) (value: float) = { Html = esc shown; Sort = Some(attr value); IsText = false }
let optNumber (shown: float -> string) (value: float option) =
    match value with
    | Some v -> number (shown v) v
    | None -> { Html = "—"; Sort = Some "-1"; IsText = false }

/// A table; rows carry an optional CSS class (the best run is "best").
let table (sortable: bool) (headers: (string * bool) list) (rows: (string * Cell list) list) =
    let html = StringBuilder()
    html.Append(if sortable then "<table class=\"sortable\">" else "<table>").Append("<thead><tr>") |> ignore
    for name, isText in headers do
        html.Append(if isText then "<th class=\"text\">" else "<th>").Append(esc name).Append("</th>") |> ignore
    html.Append("</tr></thead><tbody>\n") |> ignore
    for cls, cells in rows do
        html.Append(if String.IsNullOrEmpty cls then "<tr>" else $"<tr class=\"{cls}\">") |> ignore
        for cell in cells do
            html.Append("<td") |> ignore
            if cell.IsText then html.Append(" class=\"text\"") |> ignore
            cell.Sort |> Option.iter (fun v -> html.Append(" data-v=\"").Append(esc v).Append('"') |> ignore)
            html.Append('>').Append(cell.Html).Append("</td>") |> ignore
        html.Append("</tr>\n") |> ignore
    html.Append("</tbody></table>") |> ignore
    html.ToString()
