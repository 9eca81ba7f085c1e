package demo

import "strings"

// noc is a National Olympic Committee with common given and family names
// for its made-up athletes. Name lists are comma-separated.
type noc struct {
	name    string // country, also the name of its teams
	men     string
	women   string
	family  string
	familyW string // feminine family names, where the language has them
}

var nocs = map[string]noc{
	"AUS": {"Australia", "Jack, Liam, Riley, Cooper", "Olivia, Mia, Ruby, Grace", "Smith, Taylor, Walsh, Murray, Kelly", ""},
	"AUT": {"Austria", "Andreas, Stefan, Lukas, Florian", "Lisa, Sabine, Theresa, Julia", "Gruber, Huber, Mayer, Reiter, Hofer", ""},
	"BEL": {"Belgium", "Bart, Pieter, Thomas, Jens", "Hanne, Lotte, Elise, Sofie", "Peeters, Janssens, Maes, Claes, Wouters", ""},
	"CAN": {"Canada", "Mark, Ryan, Tyler, Evan", "Sarah, Megan, Chloe, Hannah", "Tremblay, Gagnon, Roy, Campbell, MacDonald", ""},
	"CHN": {"China", "Wei, Hao, Jun, Yang", "Jing, Yu, Lin, Xue", "Zhang, Wang, Li, Liu, Chen", ""},
	"CZE": {"Czech Republic", "Jakub, Tomas, Ondrej, Martin", "Tereza, Eva, Katerina, Lucie", "Novak, Svoboda, Dvorak, Cerny, Prochazka", "Novakova, Svobodova, Dvorakova, Cerna, Prochazkova"},
	"DEN": {"Denmark", "Mads, Rasmus, Mikkel, Frederik", "Ida, Mathilde, Freja, Line", "Nielsen, Jensen, Hansen, Larsen, Sorensen", ""},
	"FIN": {"Finland", "Juho, Mikko, Ville, Antti", "Aino, Krista, Anni, Emilia", "Virtanen, Korhonen, Nieminen, Makinen, Laine", ""},
	"FRA": {"France", "Nicolas, Antoine, Mathieu, Clement", "Marie, Lea, Chloe, Manon", "Martin, Bernard, Dubois, Petit, Moreau", ""},
	"GBR": {"Great Britain", "Ross, Callum, Grant, Euan", "Fiona, Kirsty, Amy, Rachel", "Smith, Murray, Brown, Wilson, Reid", ""},
	"GEO": {"Georgia", "Giorgi, Luka, Nika, Davit", "Nino, Ana, Mariam, Tamar", "Beridze, Kapanadze, Gelashvili, Maisuradze, Tsiklauri", ""},
	"GER": {"Germany", "Johannes, Felix, Tobias, Niklas", "Laura, Lena, Vanessa, Anna", "Muller, Schmidt, Schneider, Fischer, Weber", ""},
	"HUN": {"Hungary", "Gergely, Bence, Adam, Mate", "Zsofia, Petra, Reka, Anna", "Nagy, Kovacs, Toth, Szabo, Horvath", ""},
	"ITA": {"Italy", "Marco, Giovanni, Luca, Matteo", "Giulia, Chiara, Elisa, Sara", "Rossi, Russo, Ferrari, Bianchi, Colombo", ""},
	"JPN": {"Japan", "Takumi, Haruto, Ren, Sota", "Yui, Aoi, Hina, Saki", "Sato, Suzuki, Takahashi, Tanaka, Watanabe", ""},
	"KOR": {"Korea", "Minjun, Seojun, Hyun, Jiho", "Jiwoo, Seoyeon, Minji, Yerin", "Kim, Lee, Park, Choi, Jung", ""},
	"LAT": {"Latvia", "Edgars, Kristers, Janis, Roberts", "Anna, Liene, Ilze, Laura", "Berzins, Kalnins, Ozols, Liepins, Krumins", "Berzina, Kalnina, Ozola, Liepina, Krumina"},
	"NED": {"Netherlands", "Daan, Thomas, Bram, Joost", "Femke, Sanne, Lieke, Anouk", "de Jong, Jansen, de Vries, van Dijk, Bakker", ""},
	"NOR": {"Norway", "Ole, Even, Aleksander, Henrik", "Kari, Silje, Hege, Maren", "Hansen, Johansen, Olsen, Larsen, Andersen", ""},
	"NZL": {"New Zealand", "Oliver, Finn, Ben, Sam", "Grace, Sophie, Isla, Ruby", "Wilson, Thompson, Walker, Anderson, Harris", ""},
	"POL": {"Poland", "Piotr, Kamil, Dawid, Jakub", "Natalia, Magdalena, Karolina, Kinga", "Nowak, Kowalski, Wisniewski, Wojcik, Kaminski", "Nowak, Kowalska, Wisniewska, Wojcik, Kaminska"},
	"ROC": {"ROC", "Alexander, Denis, Ivan, Sergei", "Anna, Elena, Natalia, Olga", "Ivanov, Smirnov, Kuznetsov, Popov, Volkov", "Ivanova, Smirnova, Kuznetsova, Popova, Volkova"},
	"SLO": {"Slovenia", "Luka, Jan, Matic, Nejc", "Maja, Eva, Sara, Tjasa", "Novak, Horvat, Krajnc, Zupancic, Potocnik", ""},
	"SUI": {"Switzerland", "Marco, Beat, Noe, Gino", "Nadine, Sandra, Jasmin, Carla", "Muller, Meier, Schmid, Keller, Weber", ""},
	"SVK": {"Slovakia", "Peter, Adam, Samuel, Marek", "Petra, Zuzana, Veronika, Martina", "Horvath, Kovac, Varga, Toth, Nagy", "Horvathova, Kovacova, Vargova, Tothova, Nagyova"},
	"SWE": {"Sweden", "Erik, Viktor, Anton, Jesper", "Elin, Maja, Linn, Hanna", "Andersson, Johansson, Karlsson, Nilsson, Eriksson", ""},
	"USA": {"United States", "Ryan, Nathan, Chris, Brandon", "Megan, Ashley, Brittany, Lauren", "Johnson, Williams, Brown, Jones, Miller", ""},
}

// person picks a made-up athlete name of the given gender ('M' or 'W').
func (n noc) person(pick func(int) int, gender byte) (family, given string) {
	givens, families := n.men, n.family
	if gender == 'W' {
		givens = n.women
		if n.familyW != "" {
			families = n.familyW
		}
	}
	return choose(pick, families), choose(pick, givens)
}

// choose picks one of the comma-separated names in list.
func choose(pick func(int) int, list string) string {
	names := strings.Split(list, ", ")
	return names[pick(len(names))]
}
