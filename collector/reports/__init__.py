"""The bureau's products: daily warning (日预警), weekly analysis (周研判), monthly bulletin (月通报) and the
flood-season ranking, made from the assessment (collector/assessing.py) as one ``Report`` document
(document.py) and rendered as JSON, HTML, xlsx and docx (render/)."""
