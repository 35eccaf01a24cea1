"""The offline script's style frames in languages other than English.

Per language and style: an opening (may use ``{source}``), two bridge lines that state no
facts, a closing line and a call to action. Unlike the English frames they do not name the
topic: the item's keywords are in the item's language, which may not be the video's.
French puts a narrow no-break space before ``! ? : ;`` as French typography does. The
Japanese frames are written in kana, because eSpeak NG's Japanese voice reads kana only.
"""

from __future__ import annotations

Frame = dict[str, object]

FRAMES: dict[str, dict[str, Frame]] = {
    "es": {
        "news_anchor": {
            "open": "Buenas noches. Estas son las últimas noticias de {source}.",
            "bridge": ["Esto es lo que sabemos hasta ahora.", "Seguiremos de cerca esta historia."],
            "close": "Eso es lo último sobre esta noticia.",
            "cta": "Síguenos para más novedades sobre esta historia.",
        },
        "casual": {
            "open": "¡Hola a todos! Aquí va algo de {source} que os puede interesar.",
            "bridge": ["Vale, esto es lo esencial.", "Interesante, ¿verdad?"],
            "close": "Y eso es todo por ahora.",
            "cta": "Cuéntanos qué piensas en los comentarios.",
        },
        "educational": {
            "open": "Hoy vamos a ver una noticia publicada por {source}.",
            "bridge": ["Veamos qué se ha informado.", "Esa es la idea clave que hay que recordar."],
            "close": "Y esto es lo que nos cuenta esta noticia.",
            "cta": "Síguenos para seguir aprendiendo.",
        },
        "entertaining": {
            "open": (
                "¡Aquí va una historia que nos ha llamado la atención, directamente de {source}!"
            ),
            "bridge": ["Quédate, que ahora viene lo mejor.", "¡Eso sí que es algo!"],
            "close": "¡Vaya historia! Veremos qué pasa después.",
            "cta": "Compártelo con alguien que necesite escucharlo.",
        },
        "professional": {
            "open": "Este es un breve resumen basado en información de {source}.",
            "bridge": ["Los puntos principales son los siguientes.", "Se esperan más detalles."],
            "close": "Con esto concluye el resumen.",
            "cta": "Suscríbete para recibir resúmenes breves de las noticias que importan.",
        },
    },
    "fr": {
        "news_anchor": {
            "open": "Bonsoir. Voici les dernières informations de {source}.",
            "bridge": [
                "Voici ce que nous savons pour l'instant.",
                "Nous continuerons à suivre cette affaire.",
            ],
            "close": "C'était le point sur cette information.",
            "cta": "Abonnez-vous pour suivre l'évolution de cette affaire.",
        },
        "casual": {
            "open": (
                "Salut tout le monde\u202f! Voici une info de {source} qui devrait vous intéresser."
            ),
            "bridge": ["Bon, voilà l'essentiel.", "Plutôt intéressant, non\u202f?"],
            "close": "Voilà, c'est tout pour le moment.",
            "cta": "Dites-nous ce que vous en pensez en commentaire.",
        },
        "educational": {
            "open": "Aujourd'hui, regardons une information publiée par {source}.",
            "bridge": ["Voyons ce qui a été annoncé.", "C'est le point essentiel à retenir."],
            "close": "Et voilà ce que cette information nous apprend.",
            "cta": "Abonnez-vous pour continuer à apprendre avec nous.",
        },
        "entertaining": {
            "open": "Voici une histoire qui nous a frappés, tout droit venue de {source}\u202f!",
            "bridge": [
                "Restez avec nous, le meilleur arrive.",
                "Ça, c'est vraiment quelque chose.",
            ],
            "close": "Quelle histoire\u202f! On verra bien la suite.",
            "cta": "Partagez-la avec quelqu'un qui doit l'entendre.",
        },
        "professional": {
            "open": "Voici un bref résumé fondé sur les informations de {source}.",
            "bridge": [
                "Les points principaux sont les suivants.",
                "D'autres détails sont attendus.",
            ],
            "close": "Ce résumé est terminé.",
            "cta": "Abonnez-vous pour recevoir des résumés concis de l'actualité qui compte.",
        },
    },
    "de": {
        "news_anchor": {
            "open": "Guten Abend. Hier sind die neuesten Nachrichten von {source}.",
            "bridge": ["Das wissen wir bisher.", "Wir bleiben an dieser Geschichte dran."],
            "close": "Das war das Neueste zu dieser Meldung.",
            "cta": "Folgen Sie uns für weitere Neuigkeiten zu dieser Geschichte.",
        },
        "casual": {
            "open": "Hallo zusammen! Hier ist etwas von {source}, das euch interessieren könnte.",
            "bridge": ["Okay, hier das Wichtigste.", "Ziemlich spannend, oder?"],
            "close": "Das war's fürs Erste.",
            "cta": "Schreibt uns in die Kommentare, was ihr davon haltet.",
        },
        "educational": {
            "open": "Heute schauen wir uns eine Meldung von {source} genauer an.",
            "bridge": ["Schauen wir uns an, was berichtet wurde.", "Das ist der wichtigste Punkt."],
            "close": "Und das erzählt uns diese Geschichte.",
            "cta": "Folgt uns, um weiter mit uns zu lernen.",
        },
        "entertaining": {
            "open": "Diese Geschichte ist uns aufgefallen, direkt von {source}!",
            "bridge": ["Bleibt dran, jetzt kommt das Beste.", "Das ist schon etwas Besonderes."],
            "close": "Was für eine Geschichte! Mal sehen, wie es weitergeht.",
            "cta": "Teilt das mit jemandem, der es hören sollte.",
        },
        "professional": {
            "open": "Dies ist eine kurze Zusammenfassung nach Berichten von {source}.",
            "bridge": [
                "Die wichtigsten Punkte sind folgende.",
                "Weitere Einzelheiten werden erwartet.",
            ],
            "close": "Damit endet diese Zusammenfassung.",
            "cta": "Abonnieren Sie uns für kurze Zusammenfassungen der wichtigsten Nachrichten.",
        },
    },
    "ar": {
        "news_anchor": {
            "open": "مساء الخير. إليكم آخر الأخبار من {source}.",
            "bridge": ["هذا ما نعرفه حتى الآن.", "سنواصل متابعة هذا الخبر."],
            "close": "كان هذا آخر ما لدينا عن هذا الخبر.",
            "cta": "تابعونا لمزيد من المستجدات حول هذا الخبر.",
        },
        "casual": {
            "open": "مرحبا بالجميع! إليكم خبرا من {source} قد يهمكم.",
            "bridge": ["حسنا، هذه هي الفكرة باختصار.", "مثير للاهتمام، أليس كذلك؟"],
            "close": "هذا كل شيء الآن.",
            "cta": "أخبرونا برأيكم في التعليقات.",
        },
        "educational": {
            "open": "اليوم نتعرف على خبر نشره {source}.",
            "bridge": ["لنفهم ما الذي تم الإعلان عنه.", "هذه هي النقطة الأهم التي يجب تذكرها."],
            "close": "وهذا ما يخبرنا به هذا الخبر.",
            "cta": "تابعونا لتتعلموا المزيد معنا.",
        },
        "entertaining": {
            "open": "إليكم قصة لفتت انتباهنا، مباشرة من {source}!",
            "bridge": ["ابقوا معنا، فالجزء الأجمل قادم.", "هذا أمر مدهش حقا."],
            "close": "يا لها من قصة! سنرى ما سيحدث لاحقا.",
            "cta": "شاركوا هذا مع من يحتاج أن يسمعه.",
        },
        "professional": {
            "open": "هذا موجز قصير يستند إلى تقارير {source}.",
            "bridge": ["أهم النقاط هي التالية.", "من المتوقع صدور تفاصيل إضافية."],
            "close": "بهذا نختتم هذا الموجز.",
            "cta": "اشتركوا للحصول على موجزات قصيرة لأهم الأخبار.",
        },
    },
    "zh": {
        "news_anchor": {
            "open": "晚上好。以下是来自{source}的最新消息。",
            "bridge": ["以下是我们目前了解到的情况。", "我们将继续关注这一事件。"],
            "close": "以上就是这则新闻的最新进展。",
            "cta": "关注我们，获取后续报道。",
        },
        "casual": {
            "open": "大家好！今天给大家带来一条来自{source}的消息。",
            "bridge": ["好，重点来了。", "挺有意思的吧？"],
            "close": "好啦，今天就说到这里。",
            "cta": "欢迎在评论区留下你的看法。",
        },
        "educational": {
            "open": "今天我们来看一条{source}报道的新闻。",
            "bridge": ["我们来梳理一下报道的内容。", "这是需要记住的重点。"],
            "close": "这就是这则新闻告诉我们的。",
            "cta": "关注我们，一起学习更多知识。",
        },
        "entertaining": {
            "open": "来看一个吸引我们的故事，来自{source}！",
            "bridge": ["别走开，精彩的部分来了。", "这可真不简单。"],
            "close": "真是个精彩的故事！我们拭目以待。",
            "cta": "分享给需要听到它的人吧。",
        },
        "professional": {
            "open": "以下是根据{source}的报道整理的简要汇报。",
            "bridge": ["要点如下。", "更多细节有待公布。"],
            "close": "本次汇报到此结束。",
            "cta": "订阅我们，获取重要新闻的简明汇报。",
        },
    },
    "ja": {
        "news_anchor": {
            "open": "こんばんは。{source}から、さいしんのニュースをおつたえします。",
            "bridge": [
                "いまわかっていることをおつたえします。",
                "このニュースはひきつづきおいかけます。",
            ],
            "close": "このニュースについては、いじょうです。",
            "cta": "つづきをみるには、フォローしてください。",
        },
        "casual": {
            "open": "みなさん、こんにちは！{source}から、きになるニュースです。",
            "bridge": ["ポイントはこちらです。", "おもしろいですよね？"],
            "close": "というわけで、きょうはここまで。",
            "cta": "かんそうをコメントでおしえてください。",
        },
        "educational": {
            "open": "きょうは、{source}がつたえたニュースをみていきましょう。",
            "bridge": [
                "つたえられたないようを、せいりしましょう。",
                "ここがおぼえておきたいポイントです。",
            ],
            "close": "このニュースからわかることは、いじょうです。",
            "cta": "いっしょにまなぶために、フォローしてください。",
        },
        "entertaining": {
            "open": "{source}から、めをひくニュースをおとどけします！",
            "bridge": ["ここからがおもしろいところです。", "これはすごいですね。"],
            "close": "すごいはなしですね！このさきにちゅうもくです。",
            "cta": "ほかのひとにもシェアしてください。",
        },
        "professional": {
            "open": "{source}のほうどうにもとづく、かんたんなまとめです。",
            "bridge": [
                "おもなポイントはつぎのとおりです。",
                "くわしいことは、こんごはっぴょうされるみこみです。",
            ],
            "close": "いじょうで、まとめをおわります。",
            "cta": "じゅうようなニュースのまとめをうけとるには、とうろくしてください。",
        },
    },
}

# The conversation's host lines per language and style (see tasks.script.dialogue): an
# opening that may use ``{source}``, five questions that hand over to the guest, the guest's
# line for a thin item, the host's thanks, and "thanks" (the thanks of a short video). Like
# the single-video frames they state no facts; the call to action is the style's "cta" above.
DIALOGUE: dict[str, dict[str, Frame]] = {
    "es": {
        "news_anchor": {
            "open": "Buenas noches. Nos acompaña nuestro corresponsal con una noticia de {source}.",
            "ask": [
                "¿Qué ha pasado?",
                "¿Qué más sabemos?",
                "¿Y qué viene ahora?",
                "¿Hay algo más?",
                "¿Qué deben tener en cuenta nuestros espectadores?",
            ],
            "thin": "Eso es lo que se ha informado hasta ahora.",
            "close": "Gracias por acompañarnos. Esto es lo último sobre esta noticia.",
            "thanks": "Gracias.",
        },
        "casual": {
            "open": "¡Hola a todos! Hoy tenemos compañía y una historia de {source}.",
            "ask": [
                "A ver, ¿qué está pasando?",
                "Vale, cuéntame más.",
                "¿En serio? ¿Qué más?",
                "¿Y luego qué?",
                "¿Algo más que la gente deba saber?",
            ],
            "thin": "La verdad, eso es todo lo que sabemos por ahora.",
            "close": "¡Muchas gracias, ha estado genial!",
            "thanks": "¡Gracias!",
        },
        "educational": {
            "open": "Bienvenidos. Hoy nos explican una noticia publicada por {source}.",
            "ask": [
                "¿Dónde empieza la historia?",
                "¿Puedes explicarlo un poco más?",
                "¿Por qué es importante?",
                "¿Qué más se ha informado?",
                "¿Cuál es la idea clave que hay que recordar?",
            ],
            "thin": "Esa es la parte de la historia que se ha publicado.",
            "close": "Gracias. Esto nos ayuda a entender la noticia.",
            "thanks": "Gracias.",
        },
        "entertaining": {
            "open": "¡Bienvenidos de nuevo! Hoy nos traen una historia directamente de {source}.",
            "ask": [
                "¡Venga, cuenta! ¿Qué pasó?",
                "¡No me digas! ¿Qué más?",
                "¿Y entonces?",
                "¿Todavía hay más?",
                "¿Cuál es la mejor parte?",
            ],
            "thin": "¡Y hasta aquí la historia por ahora!",
            "close": "¡Vaya historia! ¡Gracias por traérnosla!",
            "thanks": "¡Gracias!",
        },
        "professional": {
            "open": "Bienvenidos a este resumen. Analizamos la información de {source}.",
            "ask": [
                "¿Cuáles son los puntos principales?",
                "¿Qué otros detalles hay?",
                "¿Qué se desprende de esto?",
                "¿Hay algo que añadir?",
                "¿Cuál es la conclusión?",
            ],
            "thin": "Esos son los puntos que se han informado hasta ahora.",
            "close": "Gracias. Con esto concluye el resumen.",
            "thanks": "Gracias.",
        },
    },
    "fr": {
        "news_anchor": {
            "open": "Bonsoir. Notre correspondant nous rejoint avec une information de {source}.",
            "ask": [
                "Que s'est-il passé\u202f?",
                "Que savons-nous d'autre\u202f?",
                "Et quelle est la suite\u202f?",
                "Y a-t-il autre chose\u202f?",
                "Que faut-il retenir\u202f?",
            ],
            "thin": "Voilà ce qui a été rapporté jusqu'ici.",
            "close": "Merci d'être avec nous. C'était le point sur cette information.",
            "thanks": "Merci.",
        },
        "casual": {
            "open": (
                "Salut tout le monde\u202f! "
                "On a de la compagnie aujourd'hui, et une info de {source}."
            ),
            "ask": [
                "Alors, qu'est-ce qui se passe\u202f?",
                "D'accord, raconte-moi tout.",
                "Sérieux\u202f? Et quoi d'autre\u202f?",
                "Et ensuite\u202f?",
                "Autre chose à savoir\u202f?",
            ],
            "thin": "Franchement, c'est tout ce qu'on sait pour l'instant.",
            "close": "Merci beaucoup, c'était super.",
            "thanks": "Merci\u202f!",
        },
        "educational": {
            "open": (
                "Bienvenue. Aujourd'hui, on nous explique une information publiée par {source}."
            ),
            "ask": [
                "Par où commence l'histoire\u202f?",
                "Pouvez-vous nous en dire un peu plus\u202f?",
                "Pourquoi est-ce important\u202f?",
                "Qu'a-t-on appris d'autre\u202f?",
                "Quel est le point essentiel à retenir\u202f?",
            ],
            "thin": "C'est la partie de l'histoire qui a été rapportée.",
            "close": "Merci. Cela nous aide à comprendre cette information.",
            "thanks": "Merci.",
        },
        "entertaining": {
            "open": "Rebonjour\u202f! Aujourd'hui, on nous apporte une histoire venue de {source}.",
            "ask": [
                "Allez, que s'est-il passé\u202f?",
                "Pas possible\u202f! Et quoi d'autre\u202f?",
                "D'accord, et ensuite\u202f?",
                "Il y a encore plus\u202f?",
                "Quel est le meilleur moment\u202f?",
            ],
            "thin": "Et voilà l'histoire pour l'instant\u202f!",
            "close": "Quelle histoire\u202f! Merci de nous l'avoir racontée.",
            "thanks": "Merci\u202f!",
        },
        "professional": {
            "open": "Bienvenue dans ce point. Nous passons en revue les informations de {source}.",
            "ask": [
                "Quels sont les points principaux\u202f?",
                "Quels sont les autres détails\u202f?",
                "Qu'en découle-t-il\u202f?",
                "Y a-t-il quelque chose à ajouter\u202f?",
                "Quelle est la conclusion\u202f?",
            ],
            "thin": "Ce sont les points rapportés jusqu'ici.",
            "close": "Merci. Ce point est terminé.",
            "thanks": "Merci.",
        },
    },
    "de": {
        "news_anchor": {
            "open": "Guten Abend. Unser Korrespondent ist mit einer Meldung von {source} bei uns.",
            "ask": [
                "Was ist passiert?",
                "Was wissen wir noch?",
                "Und wie geht es weiter?",
                "Gibt es noch etwas?",
                "Was sollten die Zuschauer im Blick behalten?",
            ],
            "thin": "Das ist es, was bisher berichtet wurde.",
            "close": "Vielen Dank, dass Sie dabei waren. Das war das Neueste zu dieser Meldung.",
            "thanks": "Vielen Dank.",
        },
        "casual": {
            "open": (
                "Hallo zusammen! Heute habe ich Besuch, und wir haben eine Geschichte von {source}."
            ),
            "ask": [
                "Also, was ist los?",
                "Okay, erzähl mehr.",
                "Echt jetzt? Was noch?",
                "Und dann?",
                "Sonst noch etwas, das man wissen sollte?",
            ],
            "thin": "Ehrlich gesagt, mehr wissen wir gerade nicht.",
            "close": "Vielen Dank, das war super.",
            "thanks": "Danke!",
        },
        "educational": {
            "open": "Willkommen. Heute wird uns eine Meldung von {source} erklärt.",
            "ask": [
                "Wo beginnt die Geschichte?",
                "Können Sie das etwas genauer erklären?",
                "Warum ist das wichtig?",
                "Was wurde noch berichtet?",
                "Was ist der wichtigste Punkt?",
            ],
            "thin": "Das ist der Teil der Geschichte, über den berichtet wurde.",
            "close": "Danke. Das hilft uns, die Geschichte zu verstehen.",
            "thanks": "Danke.",
        },
        "entertaining": {
            "open": "Willkommen zurück! Heute gibt es eine Geschichte direkt von {source}.",
            "ask": [
                "Los, was ist passiert?",
                "Nicht im Ernst! Was noch?",
                "Okay, und dann?",
                "Da kommt noch mehr?",
                "Was ist das Beste daran?",
            ],
            "thin": "Und das ist die Geschichte bis jetzt!",
            "close": "Was für eine Geschichte! Danke, dass du sie uns mitgebracht hast!",
            "thanks": "Danke!",
        },
        "professional": {
            "open": "Willkommen zu dieser Zusammenfassung. Wir gehen Berichte von {source} durch.",
            "ask": [
                "Was sind die wichtigsten Punkte?",
                "Welche weiteren Einzelheiten gibt es?",
                "Was folgt daraus?",
                "Gibt es etwas zu ergänzen?",
                "Was ist das Fazit?",
            ],
            "thin": "Das sind die bisher berichteten Punkte.",
            "close": "Vielen Dank. Damit endet diese Zusammenfassung.",
            "thanks": "Vielen Dank.",
        },
    },
    "ar": {
        "news_anchor": {
            "open": "مساء الخير. ينضم إلينا مراسلنا بخبر من {source}.",
            "ask": [
                "ماذا حدث؟",
                "ماذا نعرف أيضا؟",
                "وما الذي سيحدث بعد ذلك؟",
                "هل هناك المزيد؟",
                "ما الذي ينبغي أن يتذكره المشاهدون؟",
            ],
            "thin": "هذا ما تم الإعلان عنه حتى الآن.",
            "close": "شكرا لانضمامك إلينا. كان هذا آخر ما لدينا عن هذا الخبر.",
            "thanks": "شكرا لك.",
        },
        "casual": {
            "open": "مرحبا بالجميع! معي اليوم ضيف، ولدينا قصة من {source}.",
            "ask": [
                "إذن، ما القصة؟",
                "حسنا، أخبرني المزيد.",
                "حقا؟ وماذا أيضا؟",
                "وبعد ذلك؟",
                "هل هناك شيء آخر يجب أن يعرفه الناس؟",
            ],
            "thin": "بصراحة، هذا كل ما نعرفه الآن.",
            "close": "شكرا جزيلا، كان ذلك رائعا.",
            "thanks": "شكرا!",
        },
        "educational": {
            "open": "أهلا بكم. اليوم يشرح لنا ضيفنا خبرا نشره {source}.",
            "ask": [
                "من أين تبدأ القصة؟",
                "هل يمكنك أن توضح أكثر؟",
                "لماذا هذا مهم؟",
                "ما الذي تم الإعلان عنه أيضا؟",
                "ما النقطة الأهم التي يجب تذكرها؟",
            ],
            "thin": "هذا هو الجزء الذي تم الإعلان عنه من القصة.",
            "close": "شكرا لك. هذا يساعدنا على فهم القصة.",
            "thanks": "شكرا لك.",
        },
        "entertaining": {
            "open": "أهلا بعودتكم! أحضر لنا ضيفنا قصة مباشرة من {source}!",
            "ask": [
                "هيا، ماذا حدث؟",
                "معقول! وماذا أيضا؟",
                "حسنا، ثم ماذا؟",
                "هناك المزيد؟",
                "ما أجمل ما في القصة؟",
            ],
            "thin": "وهذه هي القصة حتى الآن!",
            "close": "يا لها من قصة! شكرا لأنك أحضرتها لنا!",
            "thanks": "شكرا!",
        },
        "professional": {
            "open": "أهلا بكم في هذا الموجز. يستعرض محللنا تقارير {source}.",
            "ask": [
                "ما النقاط الرئيسية؟",
                "ما التفاصيل الإضافية؟",
                "ما الذي يترتب على ذلك؟",
                "هل هناك ما يضاف؟",
                "ما الخلاصة؟",
            ],
            "thin": "هذه هي النقاط التي تم الإعلان عنها حتى الآن.",
            "close": "شكرا لك. بهذا نختتم هذا الموجز.",
            "thanks": "شكرا لك.",
        },
    },
    "zh": {
        "news_anchor": {
            "open": "晚上好。记者为我们带来{source}的消息。",
            "ask": [
                "发生了什么？",
                "我们还知道什么？",
                "接下来会怎样？",
                "还有其他情况吗？",
                "观众需要注意什么？",
            ],
            "thin": "以上是目前已报道的内容。",
            "close": "感谢收看。以上是这则新闻的最新进展。",
            "thanks": "谢谢。",
        },
        "casual": {
            "open": "大家好！今天和嘉宾聊聊{source}的一条消息。",
            "ask": [
                "说说看，怎么回事？",
                "好，再多说说。",
                "真的吗？还有呢？",
                "然后呢？",
                "还有什么大家应该知道的吗？",
            ],
            "thin": "说实话，目前我们就知道这些。",
            "close": "太感谢了，聊得真好。",
            "thanks": "谢谢！",
        },
        "educational": {
            "open": "欢迎收看。今天嘉宾为我们讲解{source}的一则报道。",
            "ask": [
                "这件事从哪里说起？",
                "能再详细解释一下吗？",
                "这为什么重要？",
                "报道还提到了什么？",
                "需要记住的重点是什么？",
            ],
            "thin": "这就是目前报道的部分。",
            "close": "谢谢。这帮助我们理解了这则新闻。",
            "thanks": "谢谢。",
        },
        "entertaining": {
            "open": "欢迎回来！嘉宾带来了{source}的一个故事！",
            "ask": [
                "快说说，发生了什么？",
                "不会吧！还有呢？",
                "好，然后呢？",
                "还有更多？",
                "最精彩的是哪部分？",
            ],
            "thin": "这就是目前的故事！",
            "close": "真是个精彩的故事！谢谢你带来！",
            "thanks": "谢谢！",
        },
        "professional": {
            "open": "欢迎收看简报。分析师为我们梳理{source}的报道。",
            "ask": [
                "主要有哪些要点？",
                "还有哪些细节？",
                "这意味着什么？",
                "还有需要补充的吗？",
                "结论是什么？",
            ],
            "thin": "以上是目前报道的要点。",
            "close": "谢谢。本次简报到此结束。",
            "thanks": "谢谢。",
        },
    },
    "ja": {
        "news_anchor": {
            "open": "こんばんは。{source}のニュースについて、きしゃにききます。",
            "ask": [
                "なにがあったのですか？",
                "ほかになにがわかっていますか？",
                "このあとはどうなりますか？",
                "ほかにもありますか？",
                "しちょうしゃは、なにをおぼえておくべきですか？",
            ],
            "thin": "いまのところ、つたえられているのはここまでです。",
            "close": "ありがとうございました。このニュースについては、いじょうです。",
            "thanks": "ありがとうございました。",
        },
        "casual": {
            "open": "みなさん、こんにちは！きょうはゲストといっしょに、{source}のニュースです。",
            "ask": [
                "で、どうなってるの？",
                "へえ、もっとおしえて。",
                "ほんとに？ほかには？",
                "それで？",
                "ほかにしっておくことはある？",
            ],
            "thin": "しょうじき、いまわかっているのはそれだけです。",
            "close": "ありがとう、たのしかったです。",
            "thanks": "ありがとう！",
        },
        "educational": {
            "open": (
                "ようこそ。きょうは{source}がつたえたニュースを、ゲストにかいせつしてもらいます。"
            ),
            "ask": [
                "はなしはどこからはじまりますか？",
                "もうすこしくわしくおしえてください。",
                "なぜそれがだいじなのですか？",
                "ほかになにがつたえられましたか？",
                "おぼえておきたいポイントはなんですか？",
            ],
            "thin": "つたえられているのは、ここまでです。",
            "close": "ありがとうございます。よくわかりました。",
            "thanks": "ありがとうございました。",
        },
        "entertaining": {
            "open": (
                "おかえりなさい！ゲストが{source}から、おもしろいはなしをもってきてくれました！"
            ),
            "ask": [
                "さあ、なにがあったの？",
                "うそでしょう！ほかには？",
                "それで、どうなったの？",
                "まだあるの？",
                "いちばんおもしろいところは？",
            ],
            "thin": "いまのところ、はなしはここまでです！",
            "close": "すごいはなしですね！ありがとうございました！",
            "thanks": "ありがとう！",
        },
        "professional": {
            "open": "このまとめへようこそ。{source}のほうどうを、アナリストがせいりします。",
            "ask": [
                "おもなポイントはなんですか？",
                "ほかにくわしいことはありますか？",
                "ここからなにがいえますか？",
                "つけくわえることはありますか？",
                "けつろんはなんですか？",
            ],
            "thin": "いまのところ、つたえられているポイントはいじょうです。",
            "close": "ありがとうございました。いじょうで、まとめをおわります。",
            "thanks": "ありがとうございました。",
        },
    },
}
