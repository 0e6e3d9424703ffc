/// The page frame every report shares: inline CSS, a sortable-table script, and plotly.js linked
/// from the results folder. Nothing is fetched from the network. Pages are built with
/// Giraffe.ViewEngine, so every text is HTML-escaped by construction; only Plotly's own chart
/// fragments and our fixed CSS and script go in raw.
module Mnist.Experiments.Reports.Html

open System.Globalization
open Giraffe.ViewEngine
open Plotly.NET

let inv (format: string) (value: float) = value.ToString(format, CultureInfo.InvariantCulture)
let pct (value: float) = inv "F2" (value * 100.0) + "%"
let optPct = function Some v -> pct v | None -> "—"
let private sortKey (value: float) = value.ToString("R", CultureInfo.InvariantCulture)

/// A Plotly.NET chart (a div and the script that draws it, as Plotly writes them).
let chart (c: GenericChart) = rawText (GenericChart.toChartHTML c)

/// A note under a chart or table.
let note (text: string) = p [ _class "note" ] [ str text ]

let private css =
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
let page (pageTitle: string) (plotlySrc: string) (content: XmlNode list) =
    html [ _lang "en" ] [
        head [] [
            meta [ _charset "utf-8" ]
            meta [ _name "viewport"; _content "width=device-width, initial-scale=1" ]
            title [] [ str pageTitle ]
            style [] [ rawText css ]
            script [ _src plotlySrc ] []
        ]
        body [] (content @ [ script [] [ rawText sortScript ] ])
    ]
    |> RenderView.AsString.htmlDocument

/// A table cell: its content, an optional sort value, and whether it is text (left-aligned).
type Cell = { Content: XmlNode list; Sort: string option; IsText: bool }

let text (s: string) = { Content = [ str s ]; Sort = None; IsText = true }
/// Text shown with a hover title (an optimizer's name, its hyperparameters in the title).
let titled (shown: string) (title: string) = { text shown with Content = [ span [ _title title ] [ str shown ] ] }
/// Any content, sorted by <paramref name="key"/>.
let element (content: XmlNode) (key: string) = { Content = [ content ]; Sort = Some key; IsText = true }
let number (shown: string) (value: float) = { Content = [ str shown ]; Sort = Some(sortKey value); IsText = false }
let optNumber (shown: float -> string) (value: float option) =
    match value with
    | Some v -> number (shown v) v
    | None -> { Content = [ str "—" ]; Sort = Some "-1"; IsText = false }

/// A table of (header, is text) columns; rows carry a CSS class ("best" for the best run, or "").
let dataTable (sortable: bool) (headers: (string * bool) list) (rows: (string * Cell list) list) =
    let textClass isText = if isText then [ _class "text" ] else []
    table (if sortable then [ _class "sortable" ] else []) [
        thead [] [ tr [] [ for name, isText in headers -> th (textClass isText) [ str name ] ] ]
        tbody [] [
            for cls, cells in rows ->
                tr (if cls = "" then [] else [ _class cls ]) [
                    for cell in cells ->
                        td (textClass cell.IsText @ (cell.Sort |> Option.map (attr "data-v") |> Option.toList)) cell.Content
                ]
        ]
    ]
