/// The HTML reports: complete, linked to one shared plotly.js, and free of network addresses.
module Mnist.Tests.ReportTests

open System
open System.IO
open System.Text.RegularExpressions
open Expecto
open Mnist.Imaging
open Mnist.Experiments
open Mnist.Experiments.Reports
open Mnist.Tests.TestData
open Mnist.Tests.ExperimentFixtures

let private count (pattern: string) (text: string) = Regex.Matches(text, pattern).Count

/// Addresses a page would fetch: script/link/img sources and CSS url()s that are not data URIs.
let private externalReferences (html: string) =
    [ for m in Regex.Matches(html, """(?:src|href)\s*=\s*["']([^"']+)["']|url\(([^)]+)\)""", RegexOptions.IgnoreCase) do
          let target = if m.Groups[1].Success then m.Groups[1].Value else m.Groups[2].Value
          if Regex.IsMatch(target, "^(https?:)?//", RegexOptions.IgnoreCase) then yield target ]

[<Tests>]
let reportTests =
    testSequenced <| testList "Experiments.Reports" [
        test "the sweep and run reports hold every chart, table and image, and link plotly.js once, offline" {
            use dir = new TempDir()
            let sweep = tinySweep ()
            let outcome = Runner.runSweep (options dir.Path) sweep
            Expect.isTrue outcome.Complete "sweep complete"
            let plotly = Path.Combine(dir.Path, PlotlyAsset.FileName)
            Expect.isGreaterThan (FileInfo(plotly).Length) 1_000_000L "plotly.js written once at the results root"
            Expect.stringContains (File.ReadAllText plotly |> fun t -> t.Substring(0, 400)) "plotly.js" "it is plotly.js"
            Expect.equal (Directory.GetFiles(dir.Path, "plotly*.min.js", SearchOption.AllDirectories).Length) 1 "one copy only"

            let index = File.ReadAllText(Layout.sweepReport dir.Path "tiny")
            Expect.stringContains index """<script src="../plotly.min.js"></script>""" "sweep page links the shared plotly.js"
            Expect.isEmpty (externalReferences index) "no network address in the sweep page"
            Expect.isLessThan index.Length 500_000 "plotly.js is not inlined"
            for run in Sweep.expand sweep do
                Expect.stringContains index $"{run.Id}/report.html" $"links run {run.Id}"
            Expect.equal (count "<tr class=\"best\">" index) 1 "the best run is highlighted once"
            Expect.equal (count "class=\"sortable\"" index) 1 "a sortable table"
            // Overlaid curves (3) and effect plots: learning rate, activation.
            Expect.equal (count "Plotly.newPlot" index) 5 "five charts"
            Expect.stringContains index "Error against learning rate" "learning-rate effect"
            Expect.stringContains index "Error against activation" "activation effect"
            let best = Ranking.best ((Registry.Open dir.Path).Runs "tiny") |> Option.get
            Expect.stringContains index $"Best run: <a href=\"{best.Id}/report.html\">" "best run called out"

            for run in Sweep.expand sweep do
                let page = File.ReadAllText(Path.Combine(Layout.runDir dir.Path "tiny" run.Id, Layout.ReportFile))
                Expect.stringContains page """<script src="../../plotly.min.js"></script>""" "run page links the shared plotly.js"
                Expect.isEmpty (externalReferences page) "no network address in a run page"
                Expect.equal (count "Plotly.newPlot" page) 3 "loss, accuracy, confusion matrix"
                let mistakes = (RunFiles.tryReadMistakes (Layout.runDir dir.Path "tiny" run.Id)).Value
                let urls = [ for m in Regex.Matches(page, "src=\"(data:image/png;base64,[^\"]+)\"") -> m.Groups[1].Value ]
                Expect.equal urls.Length mistakes.Images.Length "one inline PNG per listed mistake"
                let first = ImageDecoder.Decode(ReadOnlySpan(ImageDataUrl.ToBytes urls.Head))
                Expect.equal (first.Width, first.Height) (28, 28) "a whole digit"
                let grey = first.Pixels |> Array.chunkBySize first.Channels |> Array.map Array.head
                Expect.sequenceEqual grey (Convert.FromBase64String mistakes.Images[0].Pixels |> Array.map (fun p -> 255uy - p))
                    "the mistake's own pixels, inverted (dark ink on paper)"
                let perClass = Regex.Match(page, "<th>class</th>.*?</table>", RegexOptions.Singleline).Value
                Expect.equal (count "<tr>" perClass) 10 "a per-class row per digit"
        }

        test "reports regenerate from the registry alone, and the summary appears only for a complete sweep" {
            use dir = new TempDir()
            let sweep = tinySweep ()
            let half = Runner.runSweep { options dir.Path with Shard = Shard.parse "1/2"; Reports = false } sweep
            Expect.isFalse half.Complete "half done"
            Expect.isFalse (File.Exists(Layout.sweepSummary dir.Path "tiny")) "no summary for half a sweep"
            let page = SweepReport.write dir.Path (Registry.Open dir.Path) "tiny"
            Expect.stringContains (File.ReadAllText page) "2 of 4 runs complete" "pending runs are reported"
            Runner.runSweep { options dir.Path with Shard = Shard.parse "2/2"; Reports = false } sweep |> ignore
            Expect.isTrue (File.Exists(Layout.sweepSummary dir.Path "tiny")) "summary once complete"
        }
    ]
