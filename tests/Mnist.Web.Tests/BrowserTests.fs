/// The drawing page in a real browser: Debian's Chromium driven by Playwright (never a
/// downloaded browser), against the real server (Kestrel on a loopback port).
module Mnist.Web.Tests.BrowserTests

open System
open System.Collections.Generic
open System.IO
open System.Threading.Tasks
open Expecto
open Microsoft.AspNetCore.Builder
open Microsoft.Playwright
open Mnist
open Mnist.Web
open Mnist.Web.Tests.Fixture
open Mnist.Web.Tests.Http

let chromiumPath = "/usr/bin/chromium"

let private launchArgs =
    [ "--no-sandbox"; "--disable-gpu"; "--disable-background-networking"; "--disable-component-update"; "--no-first-run"
      "--disable-dev-shm-usage" ]

/// Screenshots go here when MNIST_WEB_SCREENSHOTS names a folder.
let private screenshot (page: IPage) (name: string) =
    task {
        match Environment.GetEnvironmentVariable "MNIST_WEB_SCREENSHOTS" with
        | null | "" -> ()
        | dir ->
            Directory.CreateDirectory dir |> ignore
            let! _ = page.ScreenshotAsync(PageScreenshotOptions(Path = Path.Combine(dir, name + ".png"), FullPage = true))
            ()
    }

/// The real server on a free port of localhost, or of another address.
let private startServerOn (host: string) =
    task {
        let options = ServeOptions(ModelPath = modelPath.Value, ResultsDir = scratch "browser", Host = host, Port = 0, Log = ignore)
        let app = WebServer.Create([||], options)
        do! app.StartAsync()
        return app, (WebServer.Addresses app)[0]
    }

let private startServer () = startServerOn "localhost"

/// Waits until the page has no prediction pending and has had more answers than before.
let private settled (page: IPage) (answersBefore: int) =
    task {
        let! _ =
            page.WaitForFunctionAsync(
                "n => document.body.dataset.pending === 'false' && Number(document.body.dataset.answers || 0) > n",
                answersBefore, PageWaitForFunctionOptions(Timeout = 15000.0f))
        ()
    }

let private answers (page: IPage) =
    task {
        let! n = page.EvaluateAsync<int> "() => Number(document.body.dataset.answers || 0)"
        return n
    }

let private verdict (page: IPage) =
    task {
        let! digit = page.Locator("#digit").TextContentAsync()
        let! text = page.Locator("#verdict-text").TextContentAsync()
        return digit, text
    }

/// Strokes in canvas coordinates (0..280), drawn with the mouse.
let private drawWithMouse (page: IPage) (strokes: (float * float) list list) =
    task {
        let! rect = page.Locator("#pad").BoundingBoxAsync()
        let before = (answers page).Result
        for stroke in strokes do
            let x0, y0 = List.head stroke
            do! page.Mouse.MoveAsync(rect.X + float32 x0, rect.Y + float32 y0)
            do! page.Mouse.DownAsync()
            for x, y in List.tail stroke do
                do! page.Mouse.MoveAsync(rect.X + float32 x, rect.Y + float32 y, MouseMoveOptions(Steps = 12))
            do! page.Mouse.UpAsync()
        do! settled page before
    }

/// The same, with touch events sent through the Chrome DevTools protocol (a finger on a tablet).
let private drawWithTouch (page: IPage) (strokes: (float * float) list list) =
    task {
        let! rect = page.Locator("#pad").BoundingBoxAsync()
        let! cdp = page.Context.NewCDPSessionAsync page
        let before = (answers page).Result
        let touch kind (points: (float * float) list) =
            let args = Dictionary<string, obj>()
            args["type"] <- kind
            args["touchPoints"] <- [| for x, y in points -> dict [ "x", box (float rect.X + x); "y", box (float rect.Y + y) ] |]
            cdp.SendAsync("Input.dispatchTouchEvent", args)
        for stroke in strokes do
            let! _ = touch "touchStart" [ List.head stroke ]
            let mutable last = List.head stroke
            for x, y in List.tail stroke do
                let lx, ly = last
                for step in 1..12 do
                    let t = float step / 12.0
                    let! _ = touch "touchMove" [ lx + (x - lx) * t, ly + (y - ly) * t ]
                    ()
                last <- (x, y)
            let! _ = touch "touchEnd" []
            ()
        do! settled page before
    }

let private one = [ [ 150.0, 40.0; 140.0, 240.0 ] ]
let private seven = [ [ 70.0, 50.0; 210.0, 50.0; 120.0, 245.0 ] ]

let private clear (page: IPage) =
    task {
        let! before = answers page
        do! page.Locator("#clear").ClickAsync()
        do! settled page before
    }

[<Tests>]
let browser =
    testList "web browser"
        [ testT "draw a 1 and a 7 with the mouse, see them predicted; an empty canvas gets no prediction; draw with touch" <| fun () -> task {
              if not (File.Exists chromiumPath) then
                  skiptest $"{chromiumPath} is missing: install Debian's chromium package (apt-get install -y chromium) to run the browser test"
              let! (app: WebApplication), url = startServer ()
              try
                  use! playwright = Playwright.CreateAsync()
                  let! browser =
                      playwright.Chromium.LaunchAsync(
                          BrowserTypeLaunchOptions(ExecutablePath = chromiumPath, Headless = true, Args = launchArgs))
                  let! context = browser.NewContextAsync(BrowserNewContextOptions(HasTouch = true, ViewportSize = ViewportSize(Width = 1100, Height = 760)))
                  let! page = context.NewPageAsync()
                  let failures = ResizeArray<string>()
                  page.add_Console(fun _ m -> if m.Type = "error" then failures.Add m.Text)
                  page.add_RequestFailed(fun _ r -> failures.Add(r.Url + " " + r.Failure))
                  let! _ = page.GotoAsync(url)
                  do! settled page 0

                  let! digit, text = verdict page
                  Expect.equal text "draw a digit" "an empty canvas asks for a digit"
                  Expect.notEqual digit "1" "and predicts nothing"
                  let! topBars = page.Locator("#bars li.top").CountAsync()
                  Expect.equal topBars 0 "no bar is highlighted"

                  do! drawWithMouse page one
                  do! screenshot page "one"
                  let! digit, text = verdict page
                  Expect.equal digit "1" $"a vertical stroke is a 1 ({text})"
                  let! pointer = page.EvaluateAsync<string> "() => document.body.dataset.pointer"
                  Expect.equal pointer "mouse" "drawn with the mouse"

                  do! clear page
                  let! _, text = verdict page
                  Expect.equal text "draw a digit" "cleared: no prediction"

                  do! drawWithMouse page seven
                  let! digit, text = verdict page
                  Expect.equal digit "7" $"a bar and a diagonal are a 7 ({text})"

                  // The feature maps appear when asked for.
                  let! before = answers page
                  do! page.Locator("#maps-box summary").ClickAsync()
                  do! settled page before
                  let! src = page.Locator("#maps").GetAttributeAsync "src"
                  Expect.stringStarts src "data:image/png;base64," "feature maps shown"
                  let! seen = page.EvaluateAsync<int> "() => { const d = document.getElementById('seen').getContext('2d').getImageData(0,0,28,28).data; let n = 0; for (let i = 0; i < d.length; i += 4) if (d[i] > 0) n++; return n; }"
                  Expect.isGreaterThan seen 20 "the 28x28 image the network saw is drawn"
                  do! screenshot page "seven"

                  do! clear page
                  do! drawWithTouch page seven
                  let! pointer = page.EvaluateAsync<string> "() => document.body.dataset.pointer"
                  Expect.equal pointer "touch" "drawn with touch events"
                  let! digit, text = verdict page
                  Expect.equal digit "7" $"a 7 drawn with a finger ({text})"
                  do! screenshot page "touch"

                  // a photo of a digit on paper, through the upload button beside the canvas
                  let photo = TestImages.photograph TestImages.defaultPhoto (TestImages.mnistMask (testSet.Value.Image(0).ToArray()))
                  let! before = answers page
                  do! page.Locator("#upload").SetInputFilesAsync(FilePayload(Name = "seven.jpg", MimeType = "image/jpeg", Buffer = photo))
                  do! settled page before
                  let! digit, text = verdict page
                  Expect.equal digit (string testSet.Value.Labels[0]) $"the photographed digit ({text})"
                  let! shown = page.EvaluateAsync<int> "() => { const d = document.getElementById('pad').getContext('2d').getImageData(0,0,280,280).data; let n = 0; for (let i = 0; i < d.length; i += 4) if (d[i] < 200) n++; return n; }"
                  Expect.isGreaterThan shown 500 "the photo is shown on the canvas"
                  do! screenshot page "photo"

                  let! _ = page.GotoAsync(url + "/dashboard")
                  do! page.WaitForSelectorAsync("#registry:not(:empty)") :> Task
                  do! screenshot page "dashboard"
                  let problems = String.Join(" | ", failures)
                  Expect.isEmpty failures $"no console errors or failed requests (CSP, missing assets): {problems}"
                  do! browser.CloseAsync()
              finally
                  app.StopAsync().Wait()
                  (app :> IAsyncDisposable).DisposeAsync().AsTask().Wait()
          }

          testT "beyond localhost the dashboard asks for the admin token and sends it with its writes" <| fun () -> task {
              if not (File.Exists chromiumPath) then
                  skiptest $"{chromiumPath} is missing: install Debian's chromium package (apt-get install -y chromium) to run the browser test"
              let! (app: WebApplication), url = startServerOn "127.0.0.2"
              try
                  let token = app.Services.GetService(typeof<AdminAccess>) :?> AdminAccess |> fun a -> a.Token
                  use! playwright = Playwright.CreateAsync()
                  let! browser = playwright.Chromium.LaunchAsync(BrowserTypeLaunchOptions(ExecutablePath = chromiumPath, Headless = true, Args = launchArgs))
                  let! page = browser.NewPageAsync()
                  let! _ = page.GotoAsync(url + "/dashboard")
                  do! page.WaitForSelectorAsync("#admin-token") :> Task
                  // a write the dashboard makes (switching the model), without and then with the token
                  let write = "() => fetch('/api/model/use', { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: '{\"run\": \"none\"}' }).then(r => r.status)"
                  let! refused = page.EvaluateAsync<int> write
                  Expect.equal refused 401 "no token yet"
                  do! page.Locator("#admin-token").FillAsync token
                  let! judged = page.EvaluateAsync<int> write
                  Expect.equal judged 404 "with the token the request itself is judged (no such run)"
                  do! screenshot page "dashboard-token"
                  do! browser.CloseAsync()
              finally
                  app.StopAsync().Wait()
                  (app :> IAsyncDisposable).DisposeAsync().AsTask().Wait()
          } ]
