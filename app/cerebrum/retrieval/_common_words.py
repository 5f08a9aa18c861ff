"""Words that every tokenizer we serve encodes as ONE token, alone or after a space or a symbol.

Measured, not guessed: the ASCII words that are single tokens in both lab models' vocabularies
(Gemma 3's SentencePiece and SmolLM2's byte-level BPE), checked through llama-server's
/tokenize in six contexts ("w", " w", "(w", "\\nw", "    w", "_w"), and kept only when frequent
in real code and prose (so a larger vocabulary, such as Qwen2.5's, has them too).
`tokens.estimate_tokens` charges one token for these and more for any other letter run.
"""

from __future__ import annotations

_WORDS = """
AA AB ab ABC abc able about above ABS Abs abs absolute Abstract abstract AC Ac ac acc Accept
accept acceptance accepted Access access accessible according account accum Act act acting
ACTION Action action Actions actions activate activation Active active activities activity
actual Actually actually acute AD ad adapt adaptive ADD Add add Added added Adding adding
Additional additional addr Address address Adjust adjust adjusted admin advanced advantages AE
AF af After after Ag ag Again again against agent agents agree Ah ahead AI ai Ak algorithm alias
align aligned alignment alive ALL All all allocation Allow allow allowed allows almost alone
along Alpha alpha already Also also alt alter Alternative alternative Alternatively Although
although Always always AM am America among amount amp AN An an Analysis analysis anchor AND And
and Angle angle animate Another another ans Answer answer answers ANY Any any AP API Api api App
app append Appendix Apple apple Application application Applications applied Apply apply
appropriate approved approx apps arch archive ARE are area aren Arg arg Args args Argument
argument arguments ARM Arm arm around Arr arr Array array arrays arrow articles AS As as ASC asc
ask ass assert asset assets assign associated assuming AST async AT At at atom atomic att attach
attachment attack attacks attempt attention attr Attribute attribute attributes attrs Audio
audio AUTH Author author authors Auto auto aux AV Available available Average average avg Avoid
avoid await aware away ax axis BA ba Back back backed backend Background background backup
backward Bad bad balance Bar bar Base base based Basic basic basis batch batches BB bb BC bc BD
BE Be be Because because been Before before Begin begin Behavior behavior being below bench
benefit Best best beta better Between between bg bias bid Big big bin Binary binary bind binding
Bit bit bits black blank blob Block block blocking blocks blue BM Body body bol bold book bool
Boolean boolean boot border bos Boston Both both bottom bound boundary bounds box bp br branch
brand Break break breaking breaks brief broad broken brown browser bs budget buf buffer bug bugs
Build build Builder builder Building building Built built Business business BUT But but BY By by
byte bytes CA ca Cache cache cached calc Calculate calculate California Call call callback
called calls came Can can cancel cand candidate cannot canvas cap capacity capital caps capture
care cas Case case cases cast cat catch cause caused CB cb CC cc CD cd CE ce ceil cell cells
cent center cert certain CF cf cfg Ch ch chain Change change changed changes changing Channel
channel channels Chapter Char char Character character charge chars Chat chat Check check
checked checker checking checkpoint checks chi Child child Children children choice choices
choose chosen Christian chunk chunks CI ci circ circle circuit CL cl claim Class class classes
Classification Clean clean clear cli Client client clients clip clock clone Close close closed
closing Cloud cloud cls cluster cmd cnt co Code code codes Col col Collect collect Collection
collection collections Colon Color color Colors colors column columns com combined come comes
Command command commands Comment comment comments Commercial commercial commit Common common
communication community COMP comp Compare compare compared Comparison comparison compat
compatible compile compiler Complete complete completed complex compliance Component component
components compress compression Compute compute computer concept Conclusion cond condition
conditions conf Config config Configuration configuration configure confirm Conflict conflict
conn Connect connect connected Connection connection cons Consider consider console const
Constant constant constants construct construction consumer consuming cont Contact contact
contained Container container containing contains Content content Contents contents Context
context Continue continue contract contrast Control control controlled Controller controller
conv conversion Convert convert cookie coord coordinates Copy copy Copyright copyright Core core
cores Correct correct Cos cos cost Could could count counter countries country counts course
court Cover cover coverage covered covers CP cp CPU cpu CR Create create Created created
Creating creating creation Creative credentials credit critical Cross cross crypt CS CSS csv ct
Ctrl ctx cube cup cur curr Current current Currently currently cursor curve Custom custom
Customer cut cv cy cycle cycles DA da dark dash dat DATA Data data Database database dataset
datasets date day days DB db DC dc DD dd DE de dead debug dec decay Decimal decimal decision
Decl decl decode decoder Deep deep def DEFAULT Default default defaults Define define defined
Definition definition Definitions definitions deg degree degrees del Delete delete deleted
deletion delivery Delta delta demand den denom Dense dense dependencies dependency dependent
Depending depending deploy depth derived desc describe Description description descriptor design
designed dest destination destroy detach detail Details details detect detection determined dev
develop Development development device devices DF df DI di dict Dictionary dictionary did die
Diff diff difference different difficult digest digit digits dim dimension Dir dir Direct direct
direction Directory directory disable disabled discovery disk Display display dist distributed
Distribution distribution Div div diversity divide divided division DL dl DM DO Do do doc docker
docs Document document Documents documents Does does dog doing dom Domain domain domains Don don
Done done dot Double double Down down Download download DP dp dr draft Driver driver drop dry
dst DT dt du due dummy dump dumps duration during dw dx dy dynamic EA Each each early EC ec echo
ED ed Edge edge Edit edit edited editor EE EF effect effective effects efficient eg Either
either El el Electronic electronic elem Element element Elements elements elif else Email email
Embed embed embedding embeddings emit Empty empty en Enable enable enabled enc encode encoded
encoder encoding END End end ended ending endpoint ends engine English enough Ensure ensure ent
enter entities Entity entity entries entropy Entry entry enum env Environment environment epoch
EPS eps epsilon eq Equal equal equivalent er err Error error errors ES es esc escape especially
Essential essential est established estimate et etc ETH ethical eu ev eval evaluate evaluation
Even even Event event events ever Every every Everyone Everything everything EX Ex ex exact
Example example Examples examples exc Except except Exception exception exceptions exchange
exclude excluding exec execute execution exercise exist existence existing exists Exit exit Exp
exp expand expect expected expensive experience experimental expert Experts Explanation Export
export exposed exposure expr Expression expression ext extend extended Extension extension
extensions External external Extra extra Extract extract FA fa Face fact Factor factor Factors
factors factory fail failed Failure failure fake fall falls False false family fan far Fast fast
FC fc FD fd FE fe feat Feature feature Features features February fee Feed feed feedback feeding
fetch few ff fi Field field fields figure File file filename filenames filepath Files files Fill
fill filled filling fills Filter filter filtered filters Final final Find find finding fine
finish finished Fire First first fit fits five fix Fixed fixed fixture fl Flag flag flags Flash
flash flat Float float floating floor Flow flow flows flush fmt fn fname focused fold folder
follow following font foo FOR For for force forced forces forget Form form formal Format format
formats formatted forming forms formula forth forward Found found four fox FP fp fraction frame
framework France FREE Free free freedom freeze freq frequency fresh FROM From from Front front
frozen fs Full full fully fun func Function function functional Functions functions Future
future gain gamma gate gather GC ge GEN Gen gen General general generally Generate generate
generated generating generation Generator generator Generic generic GET Get get getattr gets
Getting getting Gi gif Git git Give give given giving GL Glob glob Global global go going gone
good Google google Got got GP GPU grad gram grant graph graphs grave gray Greater greater grid
Group group Groups groups grow gt guard guid guide guided hack had Half half hand Handle handle
handler handlers Har hard hardware has Hash hash have haven having HC he head header headers
heading heads health heavy Height height Hello hello Help help helper helpers helpful helps
hence Here here hex HF Hi hi hidden High high higher highest historical History history hold
holder holders home hook Host host hostname hosts hot How how However however href HTML html
HTTP http https Hub Human human Hy hy ib IC Icon icon ID Id id idea ideal ident identified
identifier Identifying identity ids idx IE ie IF If if ignore II ii il Im im Image image images
img impl Import import Important important imposed IN In in Inc include includes including
inclusive Increasing increasing ind indent independent Index index indices individual inf infer
Info info inform Information information informed Init init Initial initial initialize inner inp
inplace Input input inputs ins Insert insert Inside inside inspired inst Install install
installed Instance instance instances Instead instead Instruction instruction INT Int int
Integer integer integration intensive inter interaction interest Interface interface interfaces
Intern intern Internal internal Internet interpreted interval into Invalid invalid inverse IO io
ir IS Is is ISO iso Issue issue issues It it Item item Items items Iter iter iteration
iterations iterator Its its James January Japanese Java job join JS js JSON Json json jump June
just Ka KB kb Keep keep keeping kernel KEY Key key Keys keys keyword kg kid kill kind Kit know
knowledge Known known kw kwargs La la Lab Label label labels lambda lane lang Language language
Large large Last last later latest launch law laws Layer layer layers layout lazy LD le lead
leader leading leaf learning least leave leaves Left left Legal legal len Length length Less
less Let let lets letter Level level levels li LIB Lib lib Library library LICENSE License
license licenses lid life Like like likelihood likely lim Limit limit limited limits Line line
Linear linear Lines lines Link link linked Linux List list listed listen listener lists little
Live live LL ll LM LO Lo lo Load load loaded loader Loading loading loads loc Local local locale
located Location location locations Lock lock locked LOG Log log logger logging logical login
logits logs Long long Look look looking lookup Loop loop lost Low low Lower lower LP lr LS ls LT
MA Mac mac machine made magic magnitude mail Main main mainly Major major Make make making
manage management manager manifest manual Many many Map map Mapping mapping maps margin Mark
mark marked marker market marking marks Mask mask masked master MAT Mat mat Match match matched
matches matching material materials Math math Matrix matrix matter MAX Max max Maximum maximum
May may Maybe maybe MB MC MD md ME me mean meaning means measured measures Media media medium
mem member members Memory memory mentioned menu mere merge merged Message message messages met
Meta meta metadata Method method Methods methods metric metrics mg Mi micro mid middle might MIN
Min min mind mini Minimum minimum minor mins minus misc Missing missing MIT mix mixed ml MM mm
Mo mo Mobile mobile mock mod Mode mode Model model models modern modes modified Module module
modules mol money monitor Monitoring monitoring months More more Moreover Most most mounted Move
move moves moving MP mp Ms ms msg mu much Mul mul mult Multi multi Multiple multiple multiply
Must must mx my Na Name name Named named Names names namespace Native native natural nb ne near
nearest necessary Need need needed needs Neg neg Negative negative Neither nested Net net
Network network networks never NEW New new Newton Next next ni NL NO No no Node node nodes Non
non None none nor norm normal normalize normalized NOT Not not NOTE Note note Notes Nothing
nothing notification notify November Now now NP np nr NS ns NT nt nu NULL null NUM Num num
Number number numbered Numbers numbers numeric nx ny obj Object object objects Obs obs occur odd
OF Of of OFF Off off offer official offs offset often OH OK Ok ok Old old older omega ON On on
Once once ONE One one ones Only only onto OP op Open open opened Operation operation Operations
operations operator ops Opt opt optimal optimize Option option Optional optional Options options
opts OR Or or order ordered ordinary org organization orientation orig Origin origin Original
original OS os OTHER Other other others Our our OUT Out out outer outfile Output output outputs
outside ov over overflow overlap override Overview OW Own own owned owner owns pack Package
package packages packed packs pad padding Page page pages Pair pair pairs panel paper Par para
paragraph parallel Param param Parameter parameter parameters params Parent parent Paris Parse
parse parsed parser Part part partial particularly partition parts party Pass pass passed
password past paste PAT pat patch patches Path path paths Pattern pattern patterns pause pay
payload payment pc PDF PE Peer peer peg pending people PER Per per Percent percent perf perform
Performance performance performing period Permission permission permissions person personal
persons pg Ph ph Phase phase phi phones phrase physical PI Pi pi pick picture pid piece pieces
Pin ping pip pipe pipeline pixel pixels pkg PL pl place placed places plain plane platform ple
Please please plot plugin plugins Plus plus pm Point point pointer Points points Policy policy
political poll poly Pool pool Pop pop popular port portion Pos pos position positions Positive
positive possible possibly POST Post post potential pound pow Power power powered powers pp PR
pr practice PRE Pre pre prec precision Pred pred predict predicted predictions prefix prep
Preparation Prepare prepare prepared preprocess present preserved prev prevent previous price
primary Prime prime Print print printed prints prior priority Private private Pro prob
probability probably problem problems proc Process process processed processes Processing
processing processor processors prod produced producing Product product products Profile profile
profit prog Program program programs Progress progress proj Project project projection projects
prompt prop properties Property property props protected protection Protocol protocol Provide
provided provider proxy ps psi PT pt PU pu Public public publish Published published pull pure
purpose Push push Put put pv Py py pytest Python python quad quality quant quantity quarter que
Query query question Questions questions queue Quick quick quiet quite quote RA ra race radio
radius rag raise raised Raises raises RAM Random random Range range ranges rank Rate rate rather
rational Raw raw rc rd RE Re re reach reactive READ Read read readable Reader reader Reading
reading reads ready Real real really reason rec receive received recent recognized Recommended
Record record records RED Red red reduce reduced reducing reduction REF Ref ref Reference
reference References references reflect REG reg Regardless regex Region region register
registered registry regression Regular regular regulation rel related relationship relative
Release release releases relevant rem remember remote Remove remove rename render rendered rep
Repeat repeat replace reply repo Report report reported reporting reports repos repository repr
represent representation represented req Request request requests require Required required
requirements requires RES res Research research reset reshape resize resolve resolved Resource
resource Resources resources resp respect Response response responses responsible rest restore
Result result Results results ret Return return Returns returns rev reverse review RF rgb rho
Rich Right right rights ring risk rm RN Ro Rob role rolled Rom room Root root roots rot Round
round rounded route router routine routing row rows Rs rs rule rules Run run Running running
runs Runtime runtime rv SA sa safe safety sale Sam same sample sampler samples sampling San sat
save saved saving Sc sc scalar Scale scale scaled scaling Scan scan scatter sched Schedule
schedule schema scheme school Scope scope Score score scores Screen screen Script script scripts
scroll SD Search search SEC sec Second second Secondary secondary seconds secret Section section
sections secure Security security sed See see Seed seed seeing Seek seek seen segment segments
SELECT select selected selection selector self sell selling sem Send send sense sensitive sent
sentence sep September seq Sequence sequence sequences sequential serialize Series series Server
server servers Service service services serving Session session sessions SET Set set Sets sets
Setting setting Settings settings Setup setup several sf sh sha Shape shape Share share shared
sharing sharp she shell Shift shift shifting Short short Should should Show show shown shuffle
si Side side SIG sig sigma sigmoid Sign sign Signal signal signals signature signed significant
Sim sim Similar similar Simple simple simulation sin Since since Single single Site site Size
size sized sizes Sk Skip skip Sky SL slave sleep slice slope slot slots slow slug Small small
snapshot SO So so Social sock socket soft Software software sol solar sold solid Solution
solution solve solving Some some someone something Sometimes sometimes soon Sort sort sorted
Source source Sources sources SP sp Space space spaces span sparse Spec spec Special special
specific specifically specified speed spin spirit Split split spread sql sqlite sqrt square
squared sr src SS ss ssh SSL ST St st stable Stack stack stage Standard standard Star START
Start start started Starting starting starts stat State state stated statement States states
Static static statistics stats Status status stay std stderr stdout Step step steps still Stop
stop Storage storage Store store stores Str str Strategy strategy Stream stream strict stride
String string strings strip stroke struct Structure structure structured structures stuff Style
style styles Sub sub Subject subject submit subprocess subs subscribe subset Success success
successful successfully Such such sudo sufficient suffix suitable suite Sum sum Summary summary
sup super supply Support support supported surface surgery SV sv sw swap switch sy Sym sym
Symbol symbol symbols sync sys System system systems tab Table table tables Tag tag tagged tags
tail tails Take take taken tan tar Target target targets task tasks tau Tax TB tb TCP Te Team
team Technical technical Tell tell temp temperature Template template templates ten tenant
Tensor tensor term terminal termination terms TEST Test test Testing testing Tests tests TEXT
Text text texts tgt TH th than That that THE The the their them theme Then then There there
Therefore These these theta They they thin thing Things things think Thinking thinking third
This this Thomas thorn those though Thread thread threads three threshold through Thus thus Tier
tile TIME Time time timed timeout timer times timestamp tiny Tips tips Title title titles tmp TO
To to today TODO together tok Token token tokenizer tokens tolerance tone Too too Tool tool
Tools tools TOP Top top topics torch Total total touch tr trace Track track tracker tracking
trade traditional train trained training trans transaction transfer Transform transform
transformed transforms transition translate Translation translation Transport transport
transpose Treat treat treated Tree tree trial trigger trim trip True true trunc Try try TS ts
tuple Turn turn tv Two two txt Ty typ TYPE Type type Types types typical Typically typically ub
UI uid ul un Under under understand unicode Union union Unique unique Unit unit unittest
University Unknown unknown unless Unlike unpack until UP Up up Update update Updated updated
updates Upload upload upon Upper upper UR Ur URI uri URL url Us us USA usable Usage usage USE
Use use Used used User user username Users users uses Using using usual usually ut utf util
utility utils UX VA va Val val valid validate Validation validation vals Value value Values
values Var var Variable variable variables variant vars vary ve vec Vector vector vectors
verbose verified verify Version version versions Vertical Very very vi via View view views
virtual visible Vision vision visit visited Visual visual vm vocab void volume VR vs Wait wait
wake wal walk wall want warn Warning warning warnings was way ways We we weather Web web weight
weights well were What what When when Where where Whether whether which While while White white
WHO who whole whose why wide width wiki will win window Windows windows wire With with within
Without without won Word word words WORK Work work worker workers workflow Working working Works
works workspace World world worth would wrap wrapper Write write Writer writer writes writing
written wrong WS ws www xi XML xml xs XX xx year years Yes yes yet yield YO You you Your your
Zen Zero zero zeros zip zu
"""

COMMON_WORDS: frozenset[str] = frozenset(_WORDS.split())
